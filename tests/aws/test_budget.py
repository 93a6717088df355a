"""The client-side call budget: token buckets per AWS throttle category, on a fake clock (no sleeping)."""

from __future__ import annotations

import pytest

from cloudfauj.aws.budget import LIMITS, Bucket, Budget, Limit, category_of, housekeeping


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_full_bucket_passes_its_burst_then_paces_at_its_rate() -> None:
    clock = Clock()
    bucket = Bucket(Limit(50, 5), clock=clock, sleep=clock.sleep)  # UpdateService: 50 burst, 5 per s
    assert [bucket.acquire() for _ in range(50)] == [0.0] * 50
    assert bucket.acquire() == pytest.approx(0.2)
    assert bucket.acquire() == pytest.approx(0.2)
    clock.now += 10  # refills to the burst, never beyond
    assert [bucket.acquire() for _ in range(50)] == [0.0] * 50
    assert bucket.acquire() == pytest.approx(0.2)


def test_waiters_queue_in_arrival_order_without_spinning() -> None:
    clock = Clock()
    bucket = Bucket(Limit(20, 1), clock=clock, sleep=clock.sleep)  # RegisterTaskDefinition
    for _ in range(20):
        bucket.reserve()
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([1.0, 2.0, 3.0])


def test_housekeeping_yields_to_deployments() -> None:
    clock = Clock()
    budget = Budget({"ecs:task-definition-modify": Limit(20, 1)}, margin=1.0, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        assert budget.acquire("ecs", "RegisterTaskDefinition") == 0.0
    with housekeeping():  # at half the burst: waits for the level to rise above it
        assert budget.acquire("ecs", "DeregisterTaskDefinition") == pytest.approx(1.0)
    assert budget.acquire("ecs", "RegisterTaskDefinition") == 0.0  # deployments still pass at once


def test_the_budget_stays_a_little_under_the_documented_rates() -> None:
    clock = Clock()
    budget = Budget(clock=clock, sleep=clock.sleep)
    for _ in range(20):
        budget.acquire("ecs", "RegisterTaskDefinition")
    assert budget.acquire("ecs", "RegisterTaskDefinition") == pytest.approx(1 / 0.95)
    assert budget.acquire("acm", "DescribeCertificate") == 0.0  # no documented bucket: not paced


@pytest.mark.parametrize(
    ("service", "operation", "category"),
    [
        ("ecs", "DescribeServices", "ecs:service-read"),
        ("ecs", "UpdateService", "ecs:service-modify"),
        ("ecs", "RegisterTaskDefinition", "ecs:task-definition-modify"),
        ("ec2", "DescribeVpcs", "ec2:non-mutating"),
        ("ec2", "CreateVpc", "ec2:mutating"),
        ("ec2", "AuthorizeSecurityGroupIngress", "ec2:security-group-rules"),
        ("route53", "CreateHostedZone", "route53:create-hosted-zone"),
        ("elbv2", "CreateRule", None),
    ],
)
def test_operations_fall_in_their_documented_category(
    service: str, operation: str, category: str | None
) -> None:
    assert category_of(service, operation) == category
    assert category is None or category in LIMITS


def test_route53_calls_also_draw_on_the_account_bucket() -> None:
    clock = Clock()
    budget = Budget(margin=1.0, clock=clock, sleep=clock.sleep)
    for _ in range(40):
        budget.acquire("route53", "CreateHostedZone")
    for _ in range(10):
        assert budget.acquire("route53", "ListHostedZonesByName") == 0.0
    assert budget.acquire("route53", "ListHostedZonesByName") == pytest.approx(0.1)
