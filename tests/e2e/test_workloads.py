"""Real applications end to end (issue 9), through the real server and CLI processes on the sandbox:
configuration and secrets (whose values never reach Cloudfauj's output, logs or store), an app's own
roles, workers and private apps beside a public one, autoscaling that drift checks leave alone, and
invalid combinations refused before anything is created.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import MANIFESTS, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SECRET_VALUE = "Zq7-very-secret-Marmot-4411"
ENV = """apiVersion: cloudfauj.dev/v1
kind: Environment
metadata: {name: staging}
spec: {network: aws, orchestrator: aws_ecs_fargate}
"""


def application(name: str, env: str, spec: dict[str, Any]) -> str:
    doc = {"apiVersion": "cloudfauj.dev/v1", "kind": "Application", "metadata": {"name": name, "env": env}}
    return json.dumps({**doc, "spec": spec})  # JSON is YAML


def server(image: str, port: int = 8080, **fields: Any) -> dict[str, Any]:
    return {
        "image": image,
        "resources": {"cpu": 256, "memory": 512, "network": {"bind_port": port}},
        **fields,
    }


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    st = Stack(tmp_path, server_args=("--resync-seconds", "2")).start()
    yield st
    st.stop()


def apply(st: Stack, name: str, *documents: str, args: tuple[str, ...] = ()) -> Any:
    path = st.workdir / name
    path.write_text("\n---\n".join(documents))
    return st.cf("apply", "-f", str(path), *args)


def test_an_app_with_variables_secrets_and_a_task_role_never_shows_a_secret_value(stack: Stack) -> None:
    st = stack
    db = st.aws("secretsmanager").create_secret(Name="staging/db", SecretString=SECRET_VALUE)["ARN"]
    st.aws("ssm").put_parameter(Name="/staging/api-key", Value=SECRET_VALUE, Type="SecureString")
    image = st.push("web", "v1")
    spec = server(
        image,
        variables={"MODE": "production"},
        secrets={"DB_PASSWORD": db, "API_KEY": "/staging/api-key"},
        task_role={"statements": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]},
    )
    r = apply(st, "web.yml", ENV, application("web", "staging", spec), args=("--var", "RELEASE=abc123"))
    assert r.code == 0, str(r)

    (app,) = st.cf_json("get", "applications")
    td = st.aws("ecs").describe_task_definition(
        taskDefinition=app["status"]["outputs"]["task_definition_arn"]
    )
    td = td["taskDefinition"]
    container = td["containerDefinitions"][0]
    assert {e["name"]: e["value"] for e in container["environment"]} == {
        "MODE": "production",
        "RELEASE": "abc123",
    }
    assert {s["name"]: s["valueFrom"] for s in container["secrets"]} == {
        "DB_PASSWORD": db,
        "API_KEY": "/staging/api-key",
    }
    iam = st.aws("iam")
    exec_role = td["executionRoleArn"].split("/")[-1]
    document = iam.get_role_policy(RoleName=exec_role, PolicyName="cloudfauj-secrets")["PolicyDocument"]
    readable = sorted(arn for s in document["Statement"] for arn in s["Resource"])
    assert readable == sorted([db, "arn:aws:ssm:us-east-1:123456789012:parameter/staging/api-key"])
    task_role = td["taskRoleArn"].split("/")[-1]
    assert iam.get_role_policy(RoleName=task_role, PolicyName="cloudfauj-task")["PolicyDocument"]["Statement"]

    r = st.cf("diff", "-f", str(st.workdir / "web.yml"), "--var", "RELEASE=abc123")
    assert r.code == 0, str(r)  # the same variables: nothing to change
    (deployment,) = st.cf_json("get", "deployments")
    shown = [
        r.out + r.err
        for r in (
            st.cf("get", "applications", "-o", "yaml"),
            st.cf("describe", "application", "web", "--env", "staging"),
            st.cf("get", "deployments", "-o", "json"),
            st.cf("logs", "deployment", deployment["id"]),
            st.cf("diff", "-f", str(st.workdir / "web.yml"), "--var", "RELEASE=abc123"),
        )
    ]
    assert all(db in text or "staging/db" in text for text in shown[:2])  # the references are shown
    stored = b"".join(p.read_bytes() for p in st.data_dir.rglob("*") if p.is_file())
    server_log = (st.workdir / "server.log").read_text(errors="replace")
    for text in [*shown, server_log, stored.decode("latin-1")]:
        assert SECRET_VALUE not in text

    assert st.cf("delete", "application", "web", "--env", "staging").code == 0
    left = [r["RoleName"] for r in iam.list_roles(PathPrefix="/cloudfauj/")["Roles"]]
    assert exec_role not in left and task_role not in left


def test_a_worker_and_a_private_app_deploy_beside_a_public_one(stack: Stack) -> None:
    st = stack
    assert st.cf("domain", "add", str(MANIFESTS / "example.com.yml")).code == 0
    assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-production.yml")).code == 0
    image = st.push("shop", "v1")
    worker = {
        "image": image,
        "type": "worker",
        "resources": {"cpu": 256, "memory": 512},
        "command": "python -m jobs",
    }
    r = apply(
        st,
        "apps.yml",
        application("web", "production", server(image)),
        application("catalog", "production", server(image, 9000, visibility="private")),
        application("jobs", "production", worker),
    )
    assert r.code == 0, str(r)
    apps = {a["metadata"]["name"]: a["status"] for a in st.cf_json("get", "applications")}
    assert {n: s["phase"] for n, s in apps.items()} == {"web": "ready", "catalog": "ready", "jobs": "ready"}
    assert apps["web"]["outputs"]["url"] == "https://production-web.example.com"
    assert apps["catalog"]["outputs"]["internal_name"] == "catalog.production.internal"
    assert apps["catalog"]["outputs"]["url"] is None and apps["jobs"]["outputs"]["url"] is None
    assert "catalog.production.internal" in st.cf("get", "applications").out
    assert (
        "catalog.production.internal"
        in st.cf("describe", "application", "catalog", "--env", "production").out
    )

    services = {s["serviceName"]: s for s in st.services("production")}
    assert services["jobs"]["loadBalancers"] == [] and services["catalog"]["loadBalancers"] == []
    assert len(services["web"]["loadBalancers"]) == 1
    assert len(services["catalog"]["serviceRegistries"]) == 1
    groups = [g["TargetGroupName"] for g in st.aws("elbv2").describe_target_groups()["TargetGroups"]]
    assert len(groups) == 1 and groups[0].startswith("production-web-")
    records = st.aws("route53").list_resource_record_sets(HostedZoneId=apps["web"]["outputs"]["zone_id"])
    names = {r["Name"] for r in records["ResourceRecordSets"] if r["Type"] == "A"}
    assert names == {"production-web.example.com."}
    (namespace,) = st.aws("servicediscovery").list_namespaces()["Namespaces"]
    assert namespace["Name"] == "production.internal"


def test_autoscaling_is_not_drift_and_a_new_max_is_applied(stack: Stack) -> None:
    st = stack
    image = st.push("web", "v1")
    spec = server(image, autoscaling={"min": 1, "max": 3, "cpu_target": 50})
    assert apply(st, "web.yml", ENV, application("web", "staging", spec)).code == 0
    (app,) = st.cf_json("get", "applications")
    cluster = app["status"]["outputs"]["cluster_arn"]
    rid = f"service/{cluster.split('/')[-1]}/web"
    scaling = st.aws("application-autoscaling")
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    assert target["MaxCapacity"] == 3
    (policy,) = scaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)["ScalingPolicies"]
    assert policy["PolicyType"] == "TargetTrackingScaling"

    st.aws("ecs").update_service(cluster=cluster, service="web", desiredCount=2)  # as the autoscaler would
    r = st.cf("diff", "-f", str(st.workdir / "web.yml"))
    assert r.code == 0, str(r)
    import time

    time.sleep(6)  # a few resyncs (every 2 s)
    records = st.cf_json("get", "records", "--kind", "Application")
    assert [r["cause"] for r in records] == ["apply"], records
    (svc,) = st.services("staging")
    assert svc["desiredCount"] == 2

    spec["autoscaling"]["max"] = 6
    assert apply(st, "web.yml", ENV, application("web", "staging", spec)).code == 0
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    assert target["MaxCapacity"] == 6


def test_invalid_combinations_are_refused_and_nothing_is_created(stack: Stack) -> None:
    st = stack
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1"
    other_region = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"
    cases = {
        "worker.yml": (
            {
                "image": image,
                "type": "worker",
                "resources": {"cpu": 256, "memory": 512, "network": {"bind_port": 80}},
            },
            "resources.network.bind_port",
        ),
        "scaling.yml": (server(image, autoscaling={"min": 4, "max": 2, "cpu_target": 50}), "autoscaling.min"),
        "region.yml": (server(image, secrets={"DB": other_region}), "spec.secrets.DB"),
        "unknown.yml": (server(image, autoscalling={"max": 2}), "spec.autoscalling"),
    }
    for name, (spec, field) in cases.items():
        r = apply(st, name, ENV, application("web", "staging", spec))
        assert r.code == 2, str(r)
        assert name in r.err and field in r.err and "line" in r.err, str(r)
    assert st.cf_json("get", "environments") == [] and st.cf_json("get", "applications") == []
    assert st.tagged() == []
