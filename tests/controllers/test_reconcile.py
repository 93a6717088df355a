"""Controllers driven by the reactor's attempt loop against the sandbox emulator (no API, no threads):
convergence, idempotency, truthful failures, drift correction, and deletion of only what we own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cloudfauj.aws import Gateway
from cloudfauj.reactor import Reactor
from cloudfauj.records import Cause, Record, RecordStatus, object_key, utcnow
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
    calls: list[str] = []
    for emitter in [world.aws._session.events] + [c.meta.events for c in world.aws._clients.values()]:
        emitter.register("before-call", lambda model, **_: calls.append(model.name))
    world.apply(app(v1.replace(":v1", ":nope")))
    failed = world.converge("Application/staging/web")
    assert failed.status == RecordStatus.FAILED and "Pre-flight" in (failed.reason or ""), failed.reason
    assert "web:nope" in (failed.reason or "")
    read_only = ("Describe", "List", "Get")
    assert calls and not [c for c in calls if not c.startswith(read_only)], calls

    crashing = push(aws, "web", "v2", crash=True)
    world.apply(app(crashing))
    failed = world.converge("Application/staging/web")
    assert failed.status == RecordStatus.FAILED, failed.reason
    assert "rolled the service back" in (failed.reason or "")
    assert "rolled back to revision 1" in (failed.reason or "")
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


def test_a_deployment_past_its_deadline_fails_and_leaves_the_last_good_revision_running(
    world: World, aws: Any
) -> None:
    world.apply(env())
    world.converge("Environment/staging")
    v1, v2 = push(aws, "web", "v1"), push(aws, "web", "v2")
    world.apply(app(v1))
    good = world.converge("Application/staging/web")
    assert good.status == RecordStatus.SUCCEEDED, good.reason
    world.apply(app(v2))
    key = object_key("Application", "staging", "web")
    world.reactor.attempt(key)  # registers v2's revision and starts its rollout
    obj = world.store.get_object("Application", "staging", "web")
    assert obj is not None
    cluster = obj.status["outputs"]["cluster_arn"]
    ecs = aws("ecs")
    assert ecs.describe_services(cluster=cluster, services=["web"])["services"][0]["taskDefinition"].endswith(
        ":2"
    )

    later = utcnow() + timedelta(hours=1)
    world.reactor._now = lambda: later
    world.reactor.attempt(key)
    failed = world.store.last_record("Application", "staging", "web")
    assert failed is not None and failed.status == RecordStatus.FAILED
    assert "deadline exceeded" in (failed.reason or "") and "returned to revision 1" in (failed.reason or "")
    svc = ecs.describe_services(cluster=cluster, services=["web"])["services"][0]
    assert svc["taskDefinition"] == good.progress["rollout_task_definition"]


def test_a_deleted_subnet_is_drift_and_is_recreated(world: World, aws: Any) -> None:
    world.apply(env())
    world.converge("Environment/staging")
    obj = world.store.get_object("Environment", None, "staging")
    assert obj is not None
    ec2 = aws("ec2")
    subnet = obj.status["outputs"]["subnet_ids"][0]
    for assoc in ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])[
        "RouteTables"
    ][0]["Associations"]:
        if assoc.get("SubnetId") == subnet:
            ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
    ec2.delete_subnet(SubnetId=subnet)
    record = world.converge("Environment/staging")
    assert record.cause == Cause.DRIFT and record.status == RecordStatus.SUCCEEDED, record.reason
    events = [e.message for e in world.store.events(record.id)]
    assert any(m.startswith("Drift: create subnet") for m in events), events
    vpc = obj.status["outputs"]["vpc_id"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert len(subnets) == 2 and subnet not in {s["SubnetId"] for s in subnets}


def test_a_deleted_execution_role_is_drift_and_is_recreated(world: World, aws: Any) -> None:
    """Once the status names the role, a resync reads only its policies; NoSuchEntity there is drift."""
    world.apply(env())
    world.converge("Environment/staging")
    obj = world.store.get_object("Environment", None, "staging")
    assert obj is not None
    iam = aws("iam")
    name = obj.status["outputs"]["execution_role_arn"].rsplit("/", 1)[1]
    for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    iam.delete_role(RoleName=name)
    record = world.converge("Environment/staging")
    assert record.cause == Cause.DRIFT and record.status == RecordStatus.SUCCEEDED, record.reason
    events = [e.message for e in world.store.events(record.id)]
    assert any(m.startswith("Drift: create execution-role") for m in events), events
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    ]
