"""A user's whole journey on the sandbox, through the real server and CLI processes: upstream's files
create an environment and deploy images; failures are reported truthfully; re-applying is a no-op;
deleting leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.harness import MANIFESTS, Stack, image_uri, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    st = Stack(tmp_path).start()
    yield st
    st.stop()


def test_upstream_files_create_an_environment_deploy_and_delete_cleanly(stack: Stack) -> None:
    st = stack
    r = st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml"))
    assert r.code == 0, str(r)
    (env,) = st.cf_json("get", "environments")
    assert env["metadata"]["name"] == "staging" and env["status"]["phase"] == "ready", env

    ec2 = st.aws("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:cloudfauj:env", "Values": ["staging"]}])["Vpcs"]
    assert len(vpcs) == 1 and vpcs[0]["CidrBlock"].startswith("10.")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpcs[0]["VpcId"]]}])["Subnets"]
    assert len(subnets) >= 2 and len({s["AvailabilityZone"] for s in subnets}) >= 2
    cluster = st.cluster("staging")
    assert cluster is not None and "FARGATE" in cluster["capacityProviders"]
    outputs = env["status"]["outputs"]
    role = outputs["execution_role_arn"].split("/")[-1]
    attached = st.aws("iam").list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonECSTaskExecutionRolePolicy"]
    groups = st.aws("logs").describe_log_groups(logGroupNamePrefix="/cloudfauj/staging")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/cloudfauj/staging"] and groups[0]["retentionInDays"]

    app_dir = MANIFESTS / "nginx_api"
    v1, v2 = st.push("nginx", "v1"), st.push("nginx", "v2")
    assert st.cf("deploy", "--env", "staging", v1, cwd=app_dir).code == 0
    assert st.cf("deploy", "--env", "staging", v2, cwd=app_dir).code == 0
    (svc,) = st.services("staging")
    assert st.image_of(svc) == v2

    missing = image_uri("nginx", "v3-never-pushed")
    r = st.cf("deploy", "--env", "staging", missing, cwd=app_dir)
    assert r.code == 1, str(r)
    crashing = st.push("nginx", "v4-crashes", crash=True)
    r = st.cf("deploy", "--env", "staging", crashing, cwd=app_dir)
    assert r.code == 1, str(r)
    (svc,) = st.services("staging")
    assert st.image_of(svc) == v2, "a failed deployment must leave the previous image running"

    rows = st.cf_json("get", "deployments")
    assert [(d["image"], d["status"]) for d in rows] == [
        (crashing, "failed"),
        (missing, "failed"),
        (v2, "succeeded"),
        (v1, "succeeded"),
    ]
    assert "v3-never-pushed" in rows[1]["reason"], rows[1]
    assert rows[0]["reason"], rows[0]
    assert all(d["app"] == "nginx_api" and d["env"] == "staging" for d in rows)

    # Re-applying what already runs changes nothing: no record, no AWS resource.
    before = st.tagged()
    r = st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml"))
    assert r.code == 0, str(r)
    assert st.cf("deploy", "--env", "staging", v2, cwd=app_dir).code == 0
    assert len(st.cf_json("get", "deployments")) == 5  # the v2 re-deploy is a retry after a failure
    assert st.cf("deploy", "--env", "staging", v2, cwd=app_dir).code == 0
    assert len(st.cf_json("get", "deployments")) == 5
    assert st.tagged() == before

    r = st.cf("delete", "environment", "staging")
    assert r.code == 2 and "nginx_api" in r.err, str(r)
    assert st.cf("app", "destroy", "--env", "staging", "nginx_api").code == 0
    assert st.cf("env", "destroy", "staging").code == 0
    assert st.cf_json("get", "environments") == []
    assert st.tagged() == []


def test_two_applications_in_one_environment_deploy_at_the_same_time(stack: Stack) -> None:
    st = stack
    st.push("demo-web", "v1")
    st.push("demo-api", "v1")
    r = st.cf("apply", "-f", str(MANIFESTS / "demo.yml"))
    assert r.code == 0, str(r)
    rows = st.cf_json("get", "deployments", "--env", "demo")
    assert sorted(d["app"] for d in rows) == ["api", "web"] and {d["status"] for d in rows} == {"succeeded"}
    spans = [
        (datetime.fromisoformat(d["started_at"]), datetime.fromisoformat(d["finished_at"])) for d in rows
    ]
    (a_start, a_end), (b_start, b_end) = spans
    assert a_start < b_end and b_start < a_end, f"deployments did not overlap: {spans}"
    (env,) = st.cf_json("get", "records", "--kind", "Environment")
    assert env["status"] == "succeeded"


def test_an_app_waits_for_the_environment_applied_in_the_same_batch_and_progress_is_logged(
    stack: Stack,
) -> None:
    st = stack
    st.push("demo-web", "v1")
    st.push("demo-api", "v1")
    r = st.cf("apply", "-f", str(MANIFESTS / "demo.yml"), "--no-wait")
    assert r.code == 0, str(r)

    def both_succeeded() -> list[dict[str, str]] | None:
        rows = st.cf_json("get", "deployments")
        return rows if len(rows) == 2 and all(d["status"] == "succeeded" for d in rows) else None

    rows = wait_for(both_succeeded, what="both deployments to succeed")
    web = next(d for d in rows if d["app"] == "web")
    log = st.cf("logs", "deployment", web["id"])
    assert log.code == 0, str(log)
    for step in ("Waiting for environment 'demo'", "create_service", "COMPLETED"):
        assert step in log.out, str(log)
