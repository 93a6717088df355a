"""Garbage collection against the sandbox emulator: orphans (resources with our tag whose owner is not in the
store) are listed read-only, and a gc record deletes exactly them, through the owners' own teardown,
leaving live objects' resources and other installations' resources alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudfauj.reactor import Reactor
from cloudfauj.records import Record, RecordStatus
from cloudfauj.service import Service
from cloudfauj.settings import Settings
from controllers.gc import GC_KIND, GC_NAME, find_orphans, resource_type
from controllers.registry import CONTROLLERS
from tests.controllers.test_reconcile import World, app, env, push


@pytest.fixture
def world(tmp_path: Path, sandbox: str) -> Iterator[World]:
    w = World(tmp_path, sandbox)
    yield w
    w.store.close()


def service(world: World) -> Service:
    return Service(
        world.store,
        Settings(deadline_seconds=60),
        enqueue=lambda key: None,
        ready=lambda: True,
        aws=world.aws,
    )


def orphans(world: World) -> list[dict[str, Any]]:
    return list(service(world).gc(dry_run=True, initiator="t")["orphans"])


def collect(world: World) -> dict[str, Any]:
    result = service(world).gc(dry_run=False, initiator="t")
    if result["records"]:
        record = world.converge(f"{GC_KIND}/{GC_NAME}")
        assert record.status == RecordStatus.SUCCEEDED, record.reason
    return result


def deploy(world: World, aws: Any, *apps: str) -> None:
    world.apply(env())
    assert world.converge("Environment/staging").status == RecordStatus.SUCCEEDED
    image = push(aws, "web", "v1")
    for name in apps:
        world.apply(app(image, name=name))
        assert world.converge(f"Application/staging/{name}").status == RecordStatus.SUCCEEDED


def test_resource_types_are_read_from_arns() -> None:
    assert resource_type("arn:aws:ec2:us-east-1:1:vpc/vpc-1") == "ec2:vpc"
    assert resource_type("arn:aws:logs:us-east-1:1:log-group:/cloudfauj/x:*") == "logs:log-group"
    assert resource_type("arn:aws:iam::1:role/cloudfauj/cf-x-exec") == "iam:role"
    assert resource_type("arn:aws:route53:::hostedzone/Z1") == "route53:hostedzone"


def test_nothing_is_an_orphan_while_every_owner_is_live(world: World, aws: Any) -> None:
    deploy(world, aws, "web")
    assert orphans(world) == []
    assert collect(world)["records"] == []  # nothing to delete: no record


def test_an_application_the_store_lost_is_torn_down_and_its_neighbour_is_left_alone(
    world: World, aws: Any
) -> None:
    deploy(world, aws, "web", "api")
    world.store.remove_object("Application", "staging", "api")
    found = orphans(world)
    assert {(o["kind"], o["env"], o["app"]) for o in found} == {("Application", "staging", "api")}
    assert {o["type"] for o in found} == {"ec2:security-group", "ecs:service", "ecs:task-definition"}

    result = collect(world)
    assert result["orphans"] == found and len(result["records"]) == 1
    assert orphans(world) == []
    ecs = aws("ecs")
    cluster = world.store.get_object("Environment", None, "staging")
    assert cluster is not None
    services = ecs.describe_services(
        cluster=cluster.status["outputs"]["cluster_arn"], services=["web", "api"]
    )
    assert {s["serviceName"]: s["status"] for s in services["services"]} == {
        "web": "ACTIVE",
        "api": "INACTIVE",
    }
    events = " ".join(e.message for e in world.store.events(result["records"][0]["id"]))
    assert "delete_service" in events and "deregister_task_definition" in events
    assert "delete_security_group" in events


def test_a_whole_environment_the_store_lost_is_deleted_in_dependency_order(world: World, aws: Any) -> None:
    deploy(world, aws, "web")
    foreign = aws("ec2").create_vpc(
        CidrBlock="10.9.0.0/16",
        TagSpecifications=[
            {
                "ResourceType": "vpc",
                "Tags": [
                    {"Key": "cloudfauj:managed-by", "Value": "another-installation"},
                    {"Key": "cloudfauj:kind", "Value": "Environment"},
                    {"Key": "cloudfauj:env", "Value": "staging"},
                ],
            }
        ],
    )["Vpc"]["VpcId"]
    world.store.remove_object("Application", "staging", "web")
    world.store.remove_object("Environment", None, "staging")
    found = orphans(world)
    assert {o["kind"] for o in found} == {"Application", "Environment"}
    assert "iam:role" in {o["type"] for o in found}

    collect(world)
    assert orphans(world) == []
    assert find_orphans(world.aws, lambda owner: False) == []  # nothing of ours is left at all
    assert aws("iam").list_roles(PathPrefix="/cloudfauj/")["Roles"] == []
    assert [v["VpcId"] for v in aws("ec2").describe_vpcs(VpcIds=[foreign])["Vpcs"]] == [foreign]


def test_an_environment_whose_applications_are_still_stored_is_not_an_orphan(world: World, aws: Any) -> None:
    deploy(world, aws, "web")
    world.store.remove_object("Environment", None, "staging")
    assert orphans(world) == []


def test_a_zone_a_crash_left_untagged_is_an_orphan_once_its_domain_is_gone(world: World, aws: Any) -> None:
    reference = f"cloudfauj-{world.aws.installation_id}-example.com-crashed"
    zone = aws("route53").create_hosted_zone(Name="example.com", CallerReference=reference)["HostedZone"]
    aws("route53").create_hosted_zone(Name="example.org", CallerReference="someone-else")
    (found,) = orphans(world)
    assert (found["kind"], found["domain"], found["type"]) == ("Domain", "example.com", "route53:hostedzone")
    collect(world)
    names = [z["Name"] for z in aws("route53").list_hosted_zones()["HostedZones"]]
    assert names == ["example.org."] and zone["Name"] not in names


def test_a_gc_record_left_open_by_a_stopped_server_is_resumed_when_the_reactor_starts(
    world: World, aws: Any
) -> None:
    deploy(world, aws, "web")
    world.store.remove_object("Application", "staging", "web")
    (opened,) = service(world).gc(dry_run=False, initiator="t")["records"]  # queued in no running reactor
    restarted = Reactor(world.store, world.aws, Settings(rollout_poll_seconds=0.1), CONTROLLERS)

    async def run() -> Record:
        await restarted.start()
        try:
            for _ in range(300):
                record = await asyncio.to_thread(world.store.get_record, opened["id"])
                assert record is not None
                if record.terminal:
                    return record
                await asyncio.sleep(0.1)
            raise AssertionError("the gc record was not resumed")
        finally:
            await restarted.stop()

    record = asyncio.run(run())
    assert record.status == RecordStatus.SUCCEEDED, record.reason
    assert orphans(world) == []
