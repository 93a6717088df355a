"""Controllers driven by the reactor's attempt loop against the sandbox emulator (no API, no threads):
convergence, idempotency, truthful failures, drift correction, and deletion of only what we own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudfauj.aws import Gateway
from cloudfauj.reactor import Reactor
from cloudfauj.records import Cause, Record, RecordStatus, object_key
from cloudfauj.settings import Settings
from cloudfauj.store import Desired, SqliteStore
from controllers.network import allocate_cidr
from controllers.registry import CONTROLLERS
from tests.conftest import REGION

ENV_SPEC = {"network": "aws", "orchestrator": "aws_ecs_fargate", "domain": None, "load_balancer": None}


def app_spec(image: str, port: int = 80) -> dict[str, Any]:
    return {
        "image": image,
        "type": "server",
        "visibility": "public",
        "healthcheck": {"path": "/"},
        "resources": {"cpu": 256, "memory": 512, "network": {"bind_port": port}},
        "replicas": 1,
    }


class World:
    """A store, a gateway to the sandbox and a reactor whose attempts we run by hand."""

    def __init__(self, tmp: Path, endpoint: str) -> None:
        self.store = SqliteStore(tmp / "cloudfauj.db")
        self.aws = Gateway(
            region=REGION,
            endpoint_url=endpoint,
            installation_id=self.store.installation_id(),
            credentials=("testing", "testing"),
        )
        settings = Settings(rollout_poll_seconds=0.1, deadline_seconds=60)
        self.reactor = Reactor(self.store, self.aws, settings, CONTROLLERS)

    def apply(self, *items: Desired) -> list[Record]:
        written = self.store.apply(
            list(items), cause=Cause.APPLY, initiator="t", source=None, deadline_seconds=60
        )
        return [w.record for w in written if w.record]

    def converge(self, key: str, limit: int = 400) -> Record:
        """Run attempts for `key` (sleeping as the reactor would) until its last record is terminal."""
        import time

        kind, env, name = key.split("/")[0], None, key.split("/")[-1]
        if kind == "Application":
            env = key.split("/")[1]
        for _ in range(limit):
            delay = self.reactor.attempt(key)
            record = self.store.last_record(kind, env, name)
            assert record is not None
            if record.terminal:
                return record
            time.sleep(min(delay or 0.05, 0.2))
        raise AssertionError(f"{key} did not converge")


@pytest.fixture
def world(tmp_path: Path, sandbox: str) -> Iterator[World]:
    w = World(tmp_path, sandbox)
    yield w
    w.store.close()


def env(name: str = "staging") -> Desired:
    return Desired("Environment", name, None, ENV_SPEC)


def app(image: str, name: str = "web", env_name: str = "staging") -> Desired:
    return Desired("Application", name, env_name, app_spec(image), image=image)


def push(aws: Callable[[str], Any], repo: str, tag: str, crash: bool = False) -> str:
    from cloudfauj.sandbox import push_image

    return push_image(aws("ecr").meta.endpoint_url, repo, tag, crash=crash)


def test_cidr_allocation_ignores_vpcs_outside_ten_slash_eight_and_skips_taken_ranges() -> None:
    assert allocate_cidr(["172.31.0.0/16"]) == "10.0.0.0/16"
    assert allocate_cidr(["172.31.0.0/16", "10.0.0.0/16", "10.1.128.0/17"]) == "10.2.0.0/16"


def test_an_environment_converges_and_a_second_pass_changes_nothing(world: World, aws: Any) -> None:
    world.apply(env())
    record = world.converge("Environment/staging")
    assert record.status == RecordStatus.SUCCEEDED, record.reason
    obj = world.store.get_object("Environment", None, "staging")
    assert obj is not None and obj.status["phase"] == "ready"
    outputs = obj.status["outputs"]
    assert outputs["vpc_cidr"] == "10.0.0.0/16" and len(outputs["subnet_ids"]) == 2
    ctx = world.reactor._context(obj, None)
    assert CONTROLLERS["Environment"].plan(ctx) == []
    vpc = aws("ec2").describe_vpcs(VpcIds=[outputs["vpc_id"]])["Vpcs"][0]
    tags = {t["Key"]: t["Value"] for t in vpc["Tags"]}
    assert tags["cloudfauj:managed-by"] == world.aws.installation_id and tags["cloudfauj:env"] == "staging"


def test_a_deployment_succeeds_then_a_missing_image_fails_and_the_old_revision_keeps_running(
    world: World, aws: Any
) -> None:
    world.apply(env())
    world.converge("Environment/staging")
    v1 = push(aws, "web", "v1")
    world.apply(app(v1))
    first = world.converge("Application/staging/web")
    assert first.status == RecordStatus.SUCCEEDED, first.reason
    missing = v1.replace(":v1", ":nope")
    world.apply(app(missing))
    failed = world.converge("Application/staging/web")
    assert failed.status == RecordStatus.FAILED and missing in (failed.reason or ""), failed.reason
    assert "rolled the service back" in (failed.reason or "")
    obj = world.store.get_object("Application", "staging", "web")
    assert obj is not None and obj.status["phase"] == "failed"
    cluster = obj.status["outputs"]["cluster_arn"]
    svc = aws("ecs").describe_services(cluster=cluster, services=["web"])["services"][0]
    td = aws("ecs").describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert td["containerDefinitions"][0]["image"] == v1
    # resync of a failed generation reports but does not redeploy it
    assert world.reactor.attempt(object_key("Application", "staging", "web")) is None
    assert world.store.current_record("Application", "staging", "web") is None


def test_drift_is_detected_on_resync_and_corrected_with_a_drift_record(world: World, aws: Any) -> None:
    world.apply(env())
    world.converge("Environment/staging")
    obj = world.store.get_object("Environment", None, "staging")
    assert obj is not None
    aws("logs").delete_retention_policy(logGroupName="/cloudfauj/staging")
    record = world.converge("Environment/staging")
    assert record.cause == Cause.DRIFT and record.status == RecordStatus.SUCCEEDED
    events = " ".join(e.message for e in world.store.events(record.id))
    assert "Drift: update log-group" in events and "put_retention_policy" in events
    group = aws("logs").describe_log_groups(logGroupNamePrefix="/cloudfauj/staging")["logGroups"][0]
    assert group["retentionInDays"] == 30


def test_deletion_removes_only_tagged_resources(world: World, aws: Any) -> None:
    world.apply(env())
    world.converge("Environment/staging")
    foreign = aws("ec2").create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    v1 = push(aws, "web", "v1")
    world.apply(app(v1))
    world.converge("Application/staging/web")
    world.store.request_delete("Application", "staging", "web", initiator=None, deadline_seconds=60)
    assert world.converge("Application/staging/web").status == RecordStatus.SUCCEEDED
    world.store.request_delete("Environment", None, "staging", initiator=None, deadline_seconds=60)
    assert world.converge("Environment/staging").status == RecordStatus.SUCCEEDED
    assert world.store.list_objects() == []
    tagging = aws("resourcegroupstaggingapi").get_resources(
        TagFilters=[{"Key": "cloudfauj:managed-by", "Values": [world.aws.installation_id]}],
        ResourceTypeFilters=["ec2", "logs"],
    )
    assert tagging["ResourceTagMappingList"] == []
    assert [v["VpcId"] for v in aws("ec2").describe_vpcs(VpcIds=[foreign])["Vpcs"]] == [foreign]
