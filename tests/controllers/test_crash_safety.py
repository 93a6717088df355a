"""A server killed right after an AWS create call leaves neither a leak nor a duplicate: the next attempt
finds what was created (by its tags, or by the "create pending" marker checkpointed before the call) and
finishes the job. Controllers driven by the reactor's attempt loop against the sandbox emulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudfauj.aws import Gateway
from cloudfauj.records import Cause, RecordStatus
from cloudfauj.store import Desired
from controllers.domain import CERT_PENDING, ZONE_PENDING
from tests.controllers.test_reconcile import ENV_SPEC, World, app, env, push

DOMAIN = "example.com"


class ServerKilled(BaseException):
    """The server process died: nothing after the call ran. Not an `Exception`, so the reactor's one
    catch-all cannot turn it into an outcome, just as a SIGKILL leaves no outcome behind."""


def kill_after(aws: Gateway, operation: str) -> list[dict[str, Any]]:
    """Make the first `operation` through `aws` succeed in AWS and then kill the "server"; returns the
    parameters it was called with."""
    real = aws.call
    seen: list[dict[str, Any]] = []

    def call(service: str, op: str, /, **params: Any) -> dict[str, Any]:
        result = real(service, op, **params)
        if op == operation and not seen:
            seen.append(params)
            del aws.call  # the restarted server calls AWS normally
            raise ServerKilled(op)
        return result

    aws.call = call  # type: ignore[method-assign]
    return seen


def run_until_killed(world: World, key: str) -> None:
    with pytest.raises(ServerKilled):
        for _ in range(50):
            world.reactor.attempt(key)


@pytest.fixture
def world(tmp_path: Path, sandbox: str) -> Iterator[World]:
    w = World(tmp_path, sandbox)
    yield w
    w.store.close()


def ours(aws: Callable[[str], Any], world: World, **tags: str) -> list[dict[str, str]]:
    """Tagging-API entries of ours, narrowed by tags (`app="web"`), ECS tasks and deleted ECS left out."""
    filters = [{"Key": "cloudfauj:managed-by", "Values": [world.aws.installation_id]}]
    filters += [{"Key": f"cloudfauj:{k}", "Values": [v]} for k, v in tags.items()]
    found = aws("resourcegroupstaggingapi").get_resources(TagFilters=filters)["ResourceTagMappingList"]
    return [r for r in found if ":task/" not in r["ResourceARN"]]


def count_by_type(aws: Callable[[str], Any], world: World) -> dict[str, int]:
    ecs = aws("ecs")
    counts: dict[str, int] = {}
    for r in ours(aws, world):
        arn = r["ResourceARN"]
        if ":task-definition/" in arn:
            if ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"] != "ACTIVE":
                continue
        kind = arn.split(":")[2] + ":" + arn.split(":", 5)[5].split("/")[0].split(":")[0]
        counts[kind] = counts.get(kind, 0) + 1
    return counts


EXPECTED = {
    "ec2:vpc": 1,
    "ec2:internet-gateway": 1,
    "ec2:subnet": 2,
    "ec2:route-table": 1,
    "ec2:security-group": 1,
    "ecs:cluster": 1,
    "ecs:service": 1,
    "ecs:task-definition": 1,
    "logs:log-group": 1,
}


@pytest.mark.parametrize(
    "operation",
    [
        "create_vpc",
        "create_internet_gateway",
        "create_subnet",
        "create_route_table",
        "create_cluster",
        "create_role",
        "create_log_group",
        "create_security_group",
        "register_task_definition",
        "create_service",
    ],
)
def test_a_server_killed_after_a_create_call_converges_without_a_leak_or_a_duplicate(
    world: World, aws: Any, operation: str
) -> None:
    image = push(aws, "web", "v1")
    world.apply(env(), app(image))
    environment_phase = operation not in (
        "create_security_group",
        "register_task_definition",
        "create_service",
    )
    kill_after(world.aws, operation)
    if environment_phase:
        run_until_killed(world, "Environment/staging")
    assert world.converge("Environment/staging").status == RecordStatus.SUCCEEDED
    if not environment_phase:
        run_until_killed(world, "Application/staging/web")
    deployed = world.converge("Application/staging/web")
    assert deployed.status == RecordStatus.SUCCEEDED, deployed.reason
    assert count_by_type(aws, world) == EXPECTED
    roles = aws("iam").list_roles(PathPrefix="/cloudfauj/")["Roles"]
    assert len(roles) == 1
    policies = aws("iam").list_attached_role_policies(RoleName=roles[0]["RoleName"])["AttachedPolicies"]
    assert len(policies) == 1
    vpc = world.store.get_object("Environment", None, "staging")
    assert vpc is not None
    attribute = aws("ec2").describe_vpc_attribute(
        VpcId=vpc.status["outputs"]["vpc_id"], Attribute="enableDnsHostnames"
    )
    assert attribute["EnableDnsHostnames"]["Value"] is True


# -- domains: the zone is tagged by a second call, the certificate is found by listing ---------------------
def domain_world(world: World) -> None:
    world.store.apply(
        [Desired("Domain", DOMAIN, None, {"dns_service": "aws_route53", "cert_authority": "aws_acm"})],
        cause=Cause.APPLY,
        initiator="t",
        source=None,
        deadline_seconds=60,
    )


def zones(aws: Any) -> list[dict[str, Any]]:
    listed = aws("route53").list_hosted_zones_by_name(DNSName=DOMAIN)["HostedZones"]
    return [z for z in listed if z["Name"] == DOMAIN + "."]


def test_a_zone_created_when_the_server_died_is_adopted_through_the_marker_checkpointed_before(
    world: World, aws: Any
) -> None:
    domain_world(world)
    called = kill_after(world.aws, "create_hosted_zone")
    run_until_killed(world, f"Domain/{DOMAIN}")
    interrupted = world.store.last_record("Domain", None, DOMAIN)
    assert interrupted is not None and interrupted.status == RecordStatus.IN_PROGRESS
    # saved before the call, although the attempt never ended
    assert interrupted.progress[ZONE_PENDING] == called[0]["CallerReference"]
    (zone,) = zones(aws)
    zone_id = zone["Id"].split("/")[-1]
    untagged = aws("route53").list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)
    assert not untagged["ResourceTagSet"].get("Tags")

    done = world.converge(f"Domain/{DOMAIN}")
    assert done.status == RecordStatus.SUCCEEDED, done.reason
    assert [z["Id"] for z in zones(aws)] == [zone["Id"]]
    tags = aws("route53").list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id)
    assert {t["Key"] for t in tags["ResourceTagSet"]["Tags"]} >= {"cloudfauj:managed-by", "cloudfauj:domain"}
    assert ZONE_PENDING not in done.progress


def test_a_certificate_request_interrupted_by_a_crash_is_not_made_twice(world: World, aws: Any) -> None:
    domain_world(world)
    called = kill_after(world.aws, "request_certificate")
    run_until_killed(world, f"Domain/{DOMAIN}")
    interrupted = world.store.last_record("Domain", None, DOMAIN)
    assert interrupted is not None
    assert interrupted.progress[CERT_PENDING]["token"] == called[0]["IdempotencyToken"]
    done = world.converge(f"Domain/{DOMAIN}")
    assert done.status == RecordStatus.SUCCEEDED, done.reason
    certificates = aws("acm").list_certificates()["CertificateSummaryList"]
    assert len([c for c in certificates if c["DomainName"] == DOMAIN]) == 1
    assert CERT_PENDING not in done.progress


def test_a_newer_record_takes_over_the_markers_of_the_one_a_crash_interrupted(world: World, aws: Any) -> None:
    domain_world(world)
    called = kill_after(world.aws, "create_hosted_zone")
    run_until_killed(world, f"Domain/{DOMAIN}")
    obj = world.store.get_object("Domain", None, DOMAIN)
    assert obj is not None
    newer = world.store.open_record(
        obj, cause=Cause.DRIFT, initiator="t", source=None, deadline_seconds=60
    )  # supersedes the interrupted one, whose progress is never read again
    assert newer.progress == {}
    inherited = world.reactor._inherit_markers(newer)
    assert inherited.progress[ZONE_PENDING] == called[0]["CallerReference"]
    done = world.converge(f"Domain/{DOMAIN}")
    assert done.id == newer.id and done.status == RecordStatus.SUCCEEDED, done.reason
    assert len(zones(aws)) == 1


def test_a_target_group_whose_attributes_a_crash_left_unset_gets_them_on_the_next_attempt(
    world: World, aws: Any
) -> None:
    domain_world(world)
    assert world.converge(f"Domain/{DOMAIN}").status == RecordStatus.SUCCEEDED
    spec = {**ENV_SPEC, "domain": DOMAIN, "load_balancer": "aws_alb"}
    world.apply(Desired("Environment", "staging", None, spec), app(push(aws, "web", "v1")))
    assert world.converge("Environment/staging").status == RecordStatus.SUCCEEDED
    kill_after(world.aws, "create_target_group")
    run_until_killed(world, "Application/staging/web")
    deployed = world.converge("Application/staging/web")
    assert deployed.status == RecordStatus.SUCCEEDED, deployed.reason
    elb = aws("elbv2")
    (group,) = [g for g in elb.describe_target_groups()["TargetGroups"] if "-web-" in g["TargetGroupName"]]
    attributes = elb.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])["Attributes"]
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "60"} in attributes
    events = " ".join(e.message for e in world.store.events(deployed.id))
    assert "modify_target_group_attributes" in events
