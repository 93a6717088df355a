"""Controllers against an emulator that throttles and fails calls — some of the 500s only after the call
took effect — converge to exactly what the objects own: no duplicate from a create whose answer was lost,
an "already exists" answer observed again rather than failed, the same idempotency token in every
attempt of a record. Driven by the reactor's attempt loop; AWS is checked through the unfaulted emulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff

from cloudfauj.aws import Gateway
from cloudfauj.records import RecordStatus
from cloudfauj.sandbox import Sandbox
from controllers import naming
from controllers.idempotency import client_token
from tests.conftest import REGION
from tests.controllers.test_reconcile import World, app, env, push


@pytest.fixture(autouse=True)
def instant_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


def world_on(tmp: Path, endpoint: str) -> World:
    """The reactor's gateway talks to `endpoint` (a faulty emulator), resending throttled calls at once."""
    world = World(tmp, endpoint)
    world.aws = Gateway(
        region=REGION,
        endpoint_url=endpoint,
        installation_id=world.store.installation_id(),
        credentials=("testing", "testing"),
        sleep=lambda seconds: None,
    )
    world.reactor.aws = world.aws
    return world


@pytest.fixture
def faulty_world(
    tmp_path: Path, sandbox: str, faulty_sandbox: Callable[[str], Sandbox]
) -> Iterator[tuple[World, Sandbox]]:
    emulator = faulty_sandbox("throttle=0.15,error=0.15,after=0.7,seed=11")
    world = world_on(tmp_path, emulator.endpoint)
    yield world, emulator
    world.store.close()


@pytest.fixture
def world(tmp_path: Path, sandbox: str) -> Iterator[World]:
    w = world_on(tmp_path, sandbox)
    yield w
    w.store.close()


def owned(aws: Callable[[str], Any], world: World) -> dict[str, int]:
    """How many of each resource carry this installation's tag (what duplicates would show up in)."""
    ours = [{"Name": "tag:cloudfauj:managed-by", "Values": [world.aws.installation_id]}]
    ec2, ecs = aws("ec2"), aws("ecs")
    cluster = naming.cluster(world.aws.installation_id, "staging")
    family = naming.task_family(world.aws.installation_id, "staging", "web")
    clusters = ecs.describe_clusters(clusters=[cluster])["clusters"]
    definitions = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    groups = aws("logs").describe_log_groups(logGroupNamePrefix="/cloudfauj/staging")["logGroups"]
    return {
        "vpcs": len(ec2.describe_vpcs(Filters=ours)["Vpcs"]),
        "subnets": len(ec2.describe_subnets(Filters=ours)["Subnets"]),
        "internet-gateways": len(ec2.describe_internet_gateways(Filters=ours)["InternetGateways"]),
        "route-tables": len(ec2.describe_route_tables(Filters=ours)["RouteTables"]),
        "security-groups": len(ec2.describe_security_groups(Filters=ours)["SecurityGroups"]),
        "clusters": len([c for c in clusters if c["status"] == "ACTIVE"]),
        "services": len(ecs.list_services(cluster=cluster)["serviceArns"]),
        "task-definitions": len(definitions),
        "log-groups": len(groups),
        "roles": len(
            [r for r in aws("iam").list_roles()["Roles"] if r["RoleName"].endswith("-staging-exec")]
        ),
    }


def test_an_environment_and_an_app_converge_through_faults_without_duplicates(
    faulty_world: tuple[World, Sandbox], aws: Callable[[str], Any]
) -> None:
    world, emulator = faulty_world
    world.apply(env())
    environment = world.converge("Environment/staging")
    assert environment.status == RecordStatus.SUCCEEDED, environment.reason
    world.apply(app(push(aws, "web", "v1")))
    deployment = world.converge("Application/staging/web")
    assert deployment.status == RecordStatus.SUCCEEDED, deployment.reason

    assert owned(aws, world) == {
        "vpcs": 1,
        "subnets": 2,
        "internet-gateways": 1,
        "route-tables": 1,
        "security-groups": 1,
        "clusters": 1,
        "services": 1,
        "task-definitions": 1,
        "log-groups": 1,
        "roles": 1,
    }
    assert emulator.faults is not None
    seen = emulator.faults.counts
    assert seen["throttled"] > 0 and seen["errors_after_effect"] > 0, seen
    retries = [
        e.message
        for record in (environment, deployment)
        for e in world.store.events(record.id)
        if e.message.startswith("Retry ")
    ]
    assert retries and all("after a transient AWS error: AWS " in m for m in retries), retries


def test_a_create_answered_already_exists_is_observed_again_not_failed(
    world: World, aws: Callable[[str], Any]
) -> None:
    world.apply(env())
    world.converge("Environment/staging")
    outputs = world.store.get_object("Environment", None, "staging").status["outputs"]  # type: ignore[union-attr]
    name = naming.app_security_group(world.aws.installation_id, "staging", "web")
    # Our group, but not yet findable by its tags (as when AWS's listing lags behind the create).
    group = aws("ec2").create_security_group(GroupName=name, Description="web", VpcId=outputs["vpc_id"])[
        "GroupId"
    ]
    world.apply(app(push(aws, "web", "v1")))
    world.reactor.attempt("Application/staging/web")
    record = world.store.last_record("Application", "staging", "web")
    assert record is not None and record.status == RecordStatus.IN_PROGRESS
    assert record.progress["last_wait"] == (
        f"AWS says security-group {name} already exists (InvalidGroup.Duplicate): "
        "observing it again before going on."
    )
    tags = world.aws.tags("Application", env="staging", app="web")
    aws("ec2").create_tags(Resources=[group], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    done = world.converge("Application/staging/web")
    assert done.status == RecordStatus.SUCCEEDED, done.reason
    service = aws("ecs").describe_services(cluster=outputs["cluster_arn"], services=["web"])["services"][0]
    assert service["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == [group]


def test_creates_carry_idempotency_tokens_that_every_attempt_of_a_record_repeats(
    world: World, aws: Callable[[str], Any]
) -> None:
    sent: list[dict[str, Any]] = []
    for service, operation in (("ecs", "CreateService"), ("ec2", "CreateRouteTable")):
        world.aws.client(service, mutations=True).meta.events.register(
            f"provide-client-params.{service}.{operation}", lambda params, **_: sent.append(dict(params))
        )
    world.apply(env())
    world.converge("Environment/staging")
    world.apply(app(push(aws, "web", "v1")))
    world.converge("Application/staging/web")
    (route_table,) = [p for p in sent if "VpcId" in p]
    (service,) = [p for p in sent if "serviceName" in p]
    record = world.store.last_record("Application", "staging", "web")
    obj = world.store.get_object("Application", "staging", "web")
    assert record is not None and obj is not None
    ctx = world.reactor._context(obj, record)
    assert service["clientToken"] == client_token(ctx, "service") == client_token(ctx, "service")
    assert len(service["clientToken"]) == 32 and len(route_table["ClientToken"]) == 32
    other = world.reactor._context(obj, None)  # another record (here: none) gets another token
    assert client_token(other, "service") != service["clientToken"]
