"""Services behind an ALB: task targets report `initial`, then `healthy`, as ECS with an ALB shows them; an
image pushed as unhealthy runs but fails its health checks, and the rollout fails and rolls back.

What the controllers read: describe_target_health's State/Reason/Description, the stopped tasks' reason
and the deployment's rolloutState.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from cloudfauj.sandbox import push_image
from cloudfauj.sandbox.images import UNHEALTHY_ANNOTATION, manifest

BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."
INITIAL = ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
UNHEALTHY = ("unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [503]")


@pytest.fixture(scope="module")
def good(fargate: Any) -> str:
    return push_image(fargate.endpoint, "lb/web", "v1")


@pytest.fixture(scope="module")
def sick(fargate: Any) -> str:
    return push_image(fargate.endpoint, "lb/web", "v2-unhealthy", unhealthy=True)


@pytest.fixture(scope="module")
def load_balancer(fargate: Any, clients: Callable[[str], Any]) -> str:
    """An internet-facing ALB in the module's VPC."""
    return str(
        clients("elbv2").create_load_balancer(
            Name=f"{fargate.cluster}-alb",
            Subnets=fargate.subnets,
            SecurityGroups=[fargate.security_group],
            Scheme="internet-facing",
            Type="application",
        )["LoadBalancers"][0]["LoadBalancerArn"]
    )


@pytest.fixture
def alb(fargate: Any, clients: Callable[[str], Any], load_balancer: str) -> str:
    """A target group of type ip behind its own HTTP listener on the ALB, one per test; returns its ARN."""
    elbv2 = clients("elbv2")
    port = 8000 + len(elbv2.describe_listeners(LoadBalancerArn=load_balancer)["Listeners"])
    group = elbv2.create_target_group(
        Name=f"{fargate.cluster}-{port}",
        Protocol="HTTP",
        Port=80,
        VpcId=fargate.vpc,
        TargetType="ip",
        HealthCheckPath="/healthz",
        Matcher={"HttpCode": "200"},
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(
        LoadBalancerArn=load_balancer,
        Protocol="HTTP",
        Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
    )
    return str(group)


def _health(clients: Callable[[str], Any], group: str) -> dict[str, tuple[str, str | None, str | None]]:
    """Target IP → (State, Reason, Description)."""
    found = clients("elbv2").describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
    return {
        t["Target"]["Id"]: (
            t["TargetHealth"]["State"],
            t["TargetHealth"].get("Reason"),
            t["TargetHealth"].get("Description"),
        )
        for t in found
    }


def _soon(read: Callable[[], Any], until: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    """Like `fargate.poll`, but polling tightly: some states last only half a rollout (0.25 s here)."""
    deadline = time.monotonic() + timeout
    value = read()
    while not until(value):
        if time.monotonic() > deadline:
            pytest.fail(f"condition not reached within {timeout} s; last value: {value!r}")
        time.sleep(0.01)
        value = read()
    return value


def _ips(tasks: list[dict[str, Any]]) -> set[str]:
    details = [d for t in tasks for a in t["attachments"] for d in a["details"]]
    return {d["value"] for d in details if d["name"] == "privateIPv4Address"}


def _balanced(group: str) -> list[dict[str, Any]]:
    return [{"targetGroupArn": group, "containerName": "app", "containerPort": 80}]


def test_pushing_unhealthy_gives_a_distinct_annotated_image(
    fargate: Any, clients: Callable[[str], Any]
) -> None:
    body = json.loads(manifest("lb/other", "v1", crash=False, unhealthy=True))
    assert body["annotations"] == {UNHEALTHY_ANNOTATION: "true"}
    with pytest.raises(ValueError, match="not both"):
        push_image(fargate.endpoint, "lb/other", "v1", crash=True, unhealthy=True)

    def digest() -> str:
        images = clients("ecr").describe_images(repositoryName="lb/other", imageIds=[{"imageTag": "v1"}])
        return str(images["imageDetails"][0]["imageDigest"])

    digests = []
    for flags in ({}, {"unhealthy": True}, {"crash": True}):
        push_image(fargate.endpoint, "lb/other", "v1", **flags)
        digests.append(digest())
    assert len(set(digests)) == 3


def test_healthy_targets_are_initial_during_the_rollout_then_healthy(
    fargate: Any, clients: Callable[[str], Any], alb: str, good: str
) -> None:
    v1 = fargate.task_definition(good, family="lb-healthy")
    fargate.create_service("lb-healthy", v1, desired=2, loadBalancers=_balanced(alb))

    during = _soon(lambda: _health(clients, alb), lambda h: len(h) == 2)
    assert set(during.values()) == {INITIAL}
    assert fargate.describe("lb-healthy")["deployments"][0]["rolloutState"] == "IN_PROGRESS"

    fargate.wait_completed("lb-healthy", v1)
    after = _health(clients, alb)
    assert set(after) == _ips(fargate.tasks("lb-healthy")) == set(during)
    assert set(after.values()) == {("healthy", None, None)}


def test_an_unhealthy_image_fails_its_health_checks_and_rolls_back(
    fargate: Any, clients: Callable[[str], Any], alb: str, good: str, sick: str
) -> None:
    v1, v2 = fargate.task_definition(good, family="lb-sick"), fargate.task_definition(sick, family="lb-sick")
    fargate.create_service("lb-sick", v1, desired=2, loadBalancers=_balanced(alb))
    fargate.wait_completed("lb-sick", v1)
    old = _ips(fargate.tasks("lb-sick"))
    fargate.ecs.update_service(cluster=fargate.cluster, service="lb-sick", taskDefinition=v2)

    # The new tasks run and are registered, but their targets fail; the old ones stay healthy meanwhile.
    seen = _soon(lambda: _health(clients, alb), lambda h: UNHEALTHY in h.values())
    new = {ip for ip, health in seen.items() if health == UNHEALTHY}
    assert new and not new & old
    assert all(seen[ip] == ("healthy", None, None) for ip in old)
    running = fargate.tasks("lb-sick")
    assert {t["taskDefinitionArn"] for t in running if _ips([t]) & new} == {v2}

    service = fargate.wait_until(
        "lb-sick",
        lambda s: any(d["taskDefinition"] == v2 and d["rolloutState"] == "FAILED" for d in s["deployments"]),
    )
    failed = next(d for d in service["deployments"] if d["taskDefinition"] == v2)
    assert failed["rolloutStateReason"] == BREAKER_REASON
    assert failed["failedTasks"] >= 3
    assert service["deployments"][0]["taskDefinition"] == v1  # the rollback, already under way

    done = fargate.wait_completed("lb-sick", v1)
    stopped = [t for t in fargate.tasks("lb-sick", status="STOPPED") if t["taskDefinitionArn"] == v2]
    assert len(stopped) == failed["failedTasks"]
    assert {t["stoppedReason"] for t in stopped} == {f"Task failed ELB health checks in (target-group {alb})"}
    assert {t["stopCode"] for t in stopped} == {"ServiceSchedulerInitiated"}
    messages = [e["message"] for e in done["events"]]
    unhealthy_event = (
        f"(service lb-sick) (port 80) is unhealthy in (target-group {alb}) due to "
        "(reason Health checks failed with these codes: [503])."
    )
    assert unhealthy_event in messages
    assert any(m.startswith("(service lb-sick) rolling back to deployment") for m in messages)

    after = _health(clients, alb)
    mine = _ips(fargate.tasks("lb-sick"))
    assert len(mine) == 2 and not mine & new
    assert {after[ip] for ip in mine} == {("healthy", None, None)}
    assert not new & set(after)  # the failed tasks were deregistered


def test_without_a_load_balancer_an_unhealthy_image_just_runs(fargate: Any, sick: str) -> None:
    td = fargate.task_definition(sick, family="lb-none")
    fargate.create_service("lb-none", td)
    done = fargate.wait_completed("lb-none", td)
    assert done["runningCount"] == 1
    assert fargate.tasks("lb-none", status="STOPPED") == []
