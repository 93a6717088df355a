"""Deployment history end to end on the sandbox: rollback, digest pinning and --force, pre-flight checks,
cancel, and drift found by a forced reconcile — corrected, or only reported under policy `report`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import MANIFESTS, Stack, image_uri

pytestmark = pytest.mark.e2e

APP_DIR = MANIFESTS / "nginx_api"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    st = Stack(tmp_path).start()
    assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml")).code == 0
    yield st
    st.stop()


def deploy(st: Stack, image: str, *extra: str) -> Any:
    return st.cf("deploy", "--env", "staging", image, *extra, cwd=APP_DIR)


def deployments(st: Stack) -> list[dict[str, Any]]:
    return list(st.cf_json("get", "deployments", "--app", "nginx_api", "--env", "staging"))


def task_definitions(st: Stack) -> list[str]:
    return list(st.aws("ecs").list_task_definitions()["taskDefinitionArns"])


def test_rollback_goes_back_to_the_last_good_deployment_or_to_a_chosen_one(stack: Stack) -> None:
    st = stack
    v1, v2 = st.push("nginx", "v1"), st.push("nginx", "v2")
    assert deploy(st, v1).code == 0
    assert deploy(st, v2).code == 0
    v3 = st.push("nginx", "v3", crash=True)
    r = deploy(st, v3)
    assert r.code == 1, str(r)
    failed = deployments(st)[0]
    assert failed["status"] == "failed" and "rolled back" in failed["reason"], failed

    r = st.cf("rollback", "nginx_api", "--env", "staging")
    assert r.code == 0, str(r)
    latest = deployments(st)[0]
    assert (latest["cause"], latest["status"], latest["image"]) == ("rollback", "succeeded", v2), latest
    (svc,) = st.services("staging")
    assert st.image_of(svc) == v2

    v1_id = next(d["id"] for d in deployments(st) if d["image"] == v1)
    r = st.cf("rollback", "nginx_api", "--env", "staging", "--to", v1_id)
    assert r.code == 0, str(r)
    (svc,) = st.services("staging")
    assert st.image_of(svc) == v1
    history = deployments(st)
    assert [(d["image"], d["cause"], d["status"]) for d in history] == [
        (v1, "rollback", "succeeded"),
        (v2, "rollback", "succeeded"),
        (v3, "apply", "failed"),
        (v2, "apply", "succeeded"),
        (v1, "apply", "succeeded"),
    ]
    table = st.cf("get", "deployments", "--app", "nginx_api", "--env", "staging")
    assert "rollback" in table.out and "DURATION" in table.out.upper(), str(table)

    r = st.cf("rollback", "nginx_api", "--env", "staging", "--to", failed["id"])
    assert r.code == 2 and "failed" in r.err, str(r)
    r = st.cf("rollback", "nginx_api", "--env", "nope")
    assert r.code == 2, str(r)


def test_tags_are_pinned_to_digests_and_force_redeploys(stack: Stack) -> None:
    st = stack
    v1 = st.push("nginx", "v1")
    assert deploy(st, v1).code == 0
    first = st.digest_of(v1)
    (svc,) = st.services("staging")
    td = st.aws("ecs").describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert td["containerDefinitions"][0]["image"].endswith(f"/nginx@{first}")
    assert deployments(st)[0]["image_digest"] == first

    assert deploy(st, v1).code == 0
    assert len(deployments(st)) == 1, "the same digest again deploys nothing"

    second = st.repush(v1, "rebuilt")
    assert second != first
    assert deploy(st, v1).code == 0
    history = deployments(st)
    assert len(history) == 2 and history[0]["image_digest"] == second, history
    (svc,) = st.services("staging")
    td = st.aws("ecs").describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert td["containerDefinitions"][0]["image"].endswith(f"/nginx@{second}")

    ecs_deployments = svc["deployments"][0]["id"]
    r = deploy(st, v1, "--force")
    assert r.code == 0, str(r)
    history = deployments(st)
    assert len(history) == 3 and history[0]["cause"] == "redeploy" and history[0]["status"] == "succeeded"
    (svc,) = st.services("staging")
    assert svc["deployments"][0]["id"] != ecs_deployments, "--force must start a new ECS deployment"


def test_a_never_pushed_image_fails_in_pre_flight_without_touching_aws(stack: Stack) -> None:
    st = stack
    v1 = st.push("nginx", "v1")
    assert deploy(st, v1).code == 0
    before = task_definitions(st)
    r = deploy(st, image_uri("nginx", "never-pushed"))
    assert r.code == 1, str(r)
    (latest, _) = deployments(st)
    assert latest["status"] == "failed" and "Pre-flight" in latest["reason"], latest
    assert "never-pushed" in latest["reason"] and "push" in latest["reason"]
    events = st.cf_json("describe", "record", latest["id"])["events"]
    assert not [e for e in events if e["type"] == "aws"], events
    assert task_definitions(st) == before
    (svc,) = st.services("staging")
    assert st.image_of(svc) == v1
    # what the record cost, counted by the server: reads only
    assert latest["aws_calls"] and all(
        op.split(":")[1].startswith(("Describe", "List", "Get")) for op in latest["aws_calls"]
    ), latest["aws_calls"]
    metrics = httpx.get(f"http://127.0.0.1:{st.port}/metrics").text
    assert 'cloudfauj_aws_calls_total{operation="DescribeImages",outcome="ok",service="ecr"}' in metrics


def test_cancel_returns_the_service_to_the_last_good_revision(tmp_path: Path) -> None:
    st = Stack(tmp_path, rollout_seconds=4).start()
    try:
        assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml")).code == 0
        v1, v2 = st.push("nginx", "v1"), st.push("nginx", "v2")
        assert deploy(st, v1).code == 0
        r = deploy(st, v2, "--no-wait")
        assert r.code == 0, str(r)
        pending = deployments(st)[0]
        assert pending["image"] == v2 and pending["status"] in ("pending", "in_progress"), pending
        r = st.cf("cancel", "deployment", pending["id"])
        assert r.code == 0, str(r)
        cancelled = deployments(st)[0]
        assert cancelled["status"] == "cancelled" and "revision 1" in cancelled["reason"], cancelled
        (svc,) = st.services("staging")
        assert st.image_of(svc) == v1
        r = st.cf("cancel", "deployment", pending["id"])
        assert r.code == 2 and "already ended" in r.err, str(r)
    finally:
        st.stop()


def _drift_cases(st: Stack) -> tuple[Any, str, str]:
    """Deploy, then find the service and its security group."""
    assert deploy(st, st.push("nginx", "v1")).code == 0
    (svc,) = st.services("staging")
    vpc_config = svc["networkConfiguration"]["awsvpcConfiguration"]
    return svc, svc["clusterArn"], vpc_config["securityGroups"][0]


def _drift_events(st: Stack) -> list[str]:
    record = st.cf_json("get", "records", "--kind", "Application")[0]
    assert record["cause"] == "drift", record
    return [
        e["message"]
        for e in st.cf_json("describe", "record", record["id"])["events"]
        if e["type"] == "warning"
    ]


def test_drift_is_found_by_a_forced_reconcile_and_corrected(stack: Stack) -> None:
    st = stack
    svc, cluster, sg = _drift_cases(st)
    ecs, ec2 = st.aws("ecs"), st.aws("ec2")

    ecs.update_service(cluster=cluster, service=svc["serviceName"], desiredCount=0)
    assert st.cf("reconcile", "app", "nginx_api", "--env", "staging").code == 0
    assert any("desiredCount: 0 -> 1" in m for m in _drift_events(st))
    (svc,) = st.services("staging")
    assert svc["desiredCount"] == 1

    extra = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[extra])
    assert st.cf("reconcile", "app", "nginx_api", "--env", "staging").code == 0
    assert any("ingress" in m and "22" in m for m in _drift_events(st))
    rules = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"]
    assert [p["FromPort"] for p in rules] == [80]

    ecs.delete_service(cluster=cluster, service=svc["serviceName"], force=True)
    assert st.cf("reconcile", "app", "nginx_api", "--env", "staging").code == 0
    assert any("create service" in m for m in _drift_events(st))
    assert len(st.services("staging")) == 1

    described = st.cf("describe", "app", "nginx_api", "--env", "staging")
    assert "Drifted" in described.out, str(described)


def test_drift_under_policy_report_is_reported_and_left_alone(stack: Stack) -> None:
    st = stack
    app_file = st.workdir / "app.yml"
    app_file.write_text((APP_DIR / ".cloudfauj.yml").read_text() + "drift: report\n")
    assert st.cf("deploy", "--env", "staging", st.push("nginx", "v1"), "--config", str(app_file)).code == 0
    (svc,) = st.services("staging")
    st.aws("ecs").update_service(cluster=svc["clusterArn"], service=svc["serviceName"], desiredCount=0)
    r = st.cf("reconcile", "app", "nginx_api", "--env", "staging")
    assert r.code == 0, str(r)
    assert any("desiredCount: 0 -> 1" in m for m in _drift_events(st))
    (svc,) = st.services("staging")
    assert svc["desiredCount"] == 0, "policy report must leave AWS alone"
    (app,) = st.cf_json("get", "applications")
    drifted = {c["type"]: c for c in app["status"]["conditions"]}["Drifted"]
    assert drifted["status"] == "True" and "desiredCount" in drifted["message"], drifted
