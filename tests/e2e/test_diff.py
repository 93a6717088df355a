"""`cloudfauj diff` and `apply --dry-run` through the real server and CLI on the sandbox: what an apply
would change, per AWS resource and field, computed by the controllers' own plans; nothing is stored,
no record is opened and nothing in AWS changes. Exit codes as kubectl diff: 0 no change, 1 changes,
2 invalid input.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Result, Stack

pytestmark = pytest.mark.e2e

ENV = "name: staging\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
APP = (
    "name: web\ntype: server\nvisibility: public\nhealthcheck:\n  path: /\n"
    "resources:\n  cpu: {cpu}\n  memory: 1024\n  network:\n    bind_port: 80\n"
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One server with environment `staging` and app `web` (web:v1, cpu 256) deployed."""
    st = Stack(tmp_path_factory.mktemp("diff")).start()
    try:
        write(st, "env.yml", ENV)
        write(st, "app.yml", APP.format(cpu=256))
        write(st, "app-512.yml", APP.format(cpu=512))
        st.push("web", "v1")
        assert (r := st.cf("apply", "-f", "env.yml")).code == 0, str(r)
        assert (r := deploy(st, "app.yml", "v1", "apply")).code == 0, str(r)
        st.push("web", "v2")
        yield st
    finally:
        st.stop()


def write(st: Stack, name: str, text: str) -> Path:
    path = st.workdir / name
    path.write_text(text)
    return path


def deploy(st: Stack, file: str, tag: str, command: str, *extra: str) -> Result:
    image = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/web:{tag}"
    return st.cf(command, "-f", file, "--env", "staging", "--image", image, *extra)


def aws_state(st: Stack) -> dict[str, Any]:
    """What an apply would change in AWS: the services, the task definitions and the security groups."""
    ecs = st.aws("ecs")
    cluster = st.cluster("staging")
    assert cluster is not None
    services = ecs.describe_services(cluster=cluster["clusterArn"], services=["web"])["services"]
    return {
        "services": [
            {k: s.get(k) for k in ("taskDefinition", "desiredCount", "networkConfiguration", "loadBalancers")}
            | {"deployments": [(d["id"], d["taskDefinition"], d["status"]) for d in s["deployments"]]}
            for s in services
        ],
        "task_definitions": ecs.list_task_definitions()["taskDefinitionArns"],
        "security_groups": st.aws("ec2").describe_security_groups()["SecurityGroups"],
    }


def test_diff_of_what_runs_exits_0_and_says_nothing_would_change(stack: Stack) -> None:
    r = stack.cf("diff", "-f", "env.yml")
    assert r.code == 0 and "environment/staging: unchanged" in r.out, str(r)
    r = deploy(stack, "app.yml", "v1", "diff")
    assert r.code == 0, str(r)
    assert "application/web in staging: unchanged" in r.out and "Nothing would change." in r.out, str(r)
    doc = deploy(stack, "app.yml", "v1", "diff", "-o", "json")
    assert doc.code == 0 and doc.json()["changed"] is False, str(doc)


def test_diff_names_each_field_of_each_resource_an_apply_would_change(stack: Stack) -> None:
    r = deploy(stack, "app-512.yml", "v2", "diff")
    assert r.code == 1, str(r)
    assert "application/web in staging: update" in r.out, str(r)
    assert "~ task-definition arn:aws:ecs:" in r.out and "cpu: 256 -> 512" in r.out, str(r)
    assert "image: web:v1 (sha256:" in r.out and "-> web:v2 (sha256:" in r.out, str(r)
    assert "~ service web" in r.out and "taskDefinition: arn:aws:ecs:" in r.out, str(r)
    assert "1 object(s) would change, 0 unchanged." in r.out, str(r)

    doc = deploy(stack, "app-512.yml", "v2", "diff", "-o", "json")
    assert doc.code == 1, str(doc)
    (obj,) = doc.json()["objects"]
    assert (obj["kind"], obj["name"], obj["env"], obj["action"]) == (
        "Application",
        "web",
        "staging",
        "update",
    )
    changes = {c["resource"].split()[0]: c for c in obj["changes"]}
    assert set(changes) == {"task-definition", "service"}, obj
    td = {f["path"]: (f["old"], f["new"]) for f in changes["task-definition"]["fields"]}
    assert set(td) == {"cpu", "image"} and td["cpu"] == ("256", "512"), td
    assert changes["service"]["action"] == "update"
    assert [f["path"] for f in changes["service"]["fields"]] == ["taskDefinition"]


def test_apply_dry_run_prints_the_diff_and_changes_nothing(stack: Stack) -> None:
    before, records = aws_state(stack), stack.cf_json("get", "records")
    (app,) = stack.cf_json("get", "applications")
    r = deploy(stack, "app-512.yml", "v2", "apply", "--dry-run")
    assert r.code == 0, str(r)
    assert "cpu: 256 -> 512" in r.out and "~ service web" in r.out, str(r)
    assert aws_state(stack) == before
    assert stack.cf_json("get", "records") == records
    assert stack.cf_json("get", "applications") == [app]


def test_new_objects_show_as_created_and_an_app_of_a_new_environment_waits_for_it(stack: Stack) -> None:
    write(stack, "api.yml", APP.format(cpu=256).replace("name: web", "name: api"))
    r = stack.cf("diff", "-f", "api.yml", "--env", "staging", "--image", "nginx:1.27", "-o", "json")
    assert r.code == 1, str(r)
    (obj,) = r.json()["objects"]
    assert obj["action"] == "create", obj
    assert [(c["resource"], c["action"]) for c in obj["changes"]] == [
        ("security-group", "create"),
        ("task-definition", "create"),
        ("service", "create"),
    ]
    write(stack, "prod.yml", ENV.replace("staging", "prod"))
    r = stack.cf("diff", "-f", "prod.yml", "-f", "api.yml", "--env", "prod", "--image", "nginx:1.27")
    assert r.code == 1, str(r)
    assert "environment/prod: create" in r.out and "+ vpc" in r.out, str(r)
    assert "application/api in prod: would be created once environment prod is ready" in r.out, str(r)
    assert stack.cf_json("get", "environments")[0]["metadata"]["name"] == "staging"
    assert len(stack.cf_json("get", "environments")) == 1


def test_invalid_input_exits_2_like_apply_and_nothing_is_planned(stack: Stack) -> None:
    write(stack, "bad.yml", APP.format(cpu=5000))
    for command in ("diff", "apply"):
        extra = ("--dry-run",) if command == "apply" else ()
        r = deploy(stack, "bad.yml", "v2", command, *extra)
        assert r.code == 2, str(r)
        assert "bad.yml, line 7: field 'resources.cpu'" in r.err and r.out == "", str(r)
    r = stack.cf("diff", "-f", "app.yml", "--env", "nowhere", "--image", "nginx:1.27")
    assert r.code == 2 and "environment 'nowhere' does not exist" in r.err, str(r)
