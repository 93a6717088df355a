"""The AWS call budget: client-side token buckets per AWS throttle category, shared by every controller
in the process and consulted before each attempt, so a large deploy waits its turn instead of collecting
ThrottlingExceptions (aws-limits: RegisterTaskDefinition 20 burst / 1 per s, UpdateService 50 / 5 …).

A bucket hands out reservations: taking a token may drive the level below zero, and the caller sleeps
until its token has refilled — so waiters are served in arrival order and none of them spins. The
default refill is a little under AWS's documented rate (`margin`), so clock skew between us and AWS never
turns into a throttle. Housekeeping (e.g. deregistering old task definitions) takes tokens only while
the bucket is at least half full, so it yields to deployments.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["LIMITS", "Bucket", "Budget", "Limit", "category_of", "housekeeping"]


@dataclass(frozen=True)
class Limit:
    burst: float
    rate: float  # tokens per second


#: AWS's documented buckets (reference: ECS, EC2 and Route 53 request throttling), per account and Region.
LIMITS: dict[str, Limit] = {
    "ecs:service-read": Limit(100, 20),
    "ecs:service-modify": Limit(50, 5),
    "ecs:task-definition-read": Limit(50, 20),
    "ecs:task-definition-modify": Limit(20, 1),
    "ecs:cluster-read": Limit(50, 20),
    "ecs:cluster-modify": Limit(20, 1),
    "ecs:cluster-resource-read": Limit(100, 20),
    "ecs:tag-read": Limit(50, 20),
    "ecs:tag-modify": Limit(20, 10),
    "ec2:non-mutating": Limit(100, 20),
    "ec2:mutating": Limit(50, 5),
    "ec2:security-group-rules": Limit(50, 5),
    "ec2:tags": Limit(100, 10),
    "route53:create-hosted-zone": Limit(40, 2),
    "route53:account": Limit(50, 10),
}

_ECS = {
    "DescribeServices": "service-read",
    "ListServices": "service-read",
    "CreateService": "service-modify",
    "DeleteService": "service-modify",
    "UpdateService": "service-modify",
    "DescribeTaskDefinition": "task-definition-read",
    "ListTaskDefinitions": "task-definition-read",
    "ListTaskDefinitionFamilies": "task-definition-read",
    "RegisterTaskDefinition": "task-definition-modify",
    "DeregisterTaskDefinition": "task-definition-modify",
    "DescribeClusters": "cluster-read",
    "ListClusters": "cluster-read",
    "CreateCluster": "cluster-modify",
    "DeleteCluster": "cluster-modify",
    "UpdateCluster": "cluster-modify",
    "PutClusterCapacityProviders": "cluster-modify",
    "DescribeTasks": "cluster-resource-read",
    "ListTasks": "cluster-resource-read",
    "ListTagsForResource": "tag-read",
    "TagResource": "tag-modify",
    "UntagResource": "tag-modify",
}


def category_of(service: str, operation: str) -> str | None:
    """The throttle category of an API operation (`DescribeServices`), or None when AWS documents none."""
    if service == "ecs":
        name = _ECS.get(operation)
        return f"ecs:{name}" if name else None
    if service == "ec2":
        if operation in ("CreateTags", "DeleteTags"):
            return "ec2:tags"
        if operation in ("AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"):
            return "ec2:security-group-rules"
        if operation.startswith(("Describe", "List", "Get", "Search")):
            return "ec2:non-mutating"
        return "ec2:mutating"
    if service == "route53":
        return "route53:create-hosted-zone" if operation == "CreateHostedZone" else "route53:account"
    return None


class Bucket:
    def __init__(
        self,
        limit: Limit,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit, self._clock, self._sleep = limit, clock, sleep
        self._level = float(limit.burst)
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.limit.burst, self._level + (now - self._at) * self.limit.rate)
        self._at = now

    def reserve(self, *, low_priority: bool = False) -> float:
        """Take a token; return how long to wait before using it."""
        with self._lock:
            self._refill()
            floor = self.limit.burst / 2 if low_priority else 0.0
            wait = max(0.0, (floor + 1 - self._level) / self.limit.rate) if self._level < floor + 1 else 0.0
            self._level -= 1
            return wait

    def try_take(self) -> bool:
        """Take a token if one is there now (what AWS does: no token, no call)."""
        with self._lock:
            self._refill()
            if self._level < 1:
                return False
            self._level -= 1
            return True

    def acquire(self, *, low_priority: bool = False) -> float:
        """Take a token, sleeping until it is there; return the time waited."""
        wait = self.reserve(low_priority=low_priority)
        if wait > 0:
            self._sleep(wait)
        return wait


_local = threading.local()


@contextmanager
def housekeeping() -> Iterator[None]:
    """Calls made inside the block yield to everything else in their bucket."""
    previous = getattr(_local, "low", False)
    _local.low = True
    try:
        yield
    finally:
        _local.low = previous


class Budget:
    """Buckets by category, created on first use; `margin` scales the documented refill rates."""

    def __init__(
        self,
        limits: dict[str, Limit] | None = None,
        *,
        margin: float = 0.95,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = {k: Limit(v.burst, v.rate * margin) for k, v in (limits or LIMITS).items()}
        self._clock, self._sleep = clock, sleep
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds callers spent waiting, for the benchmark

    def bucket(self, category: str) -> Bucket | None:
        with self._lock:
            if category not in self._buckets and category in self.limits:
                self._buckets[category] = Bucket(self.limits[category], clock=self._clock, sleep=self._sleep)
            return self._buckets.get(category)

    def acquire(self, service: str, operation: str) -> float:
        names = {category_of(service, operation), "route53:account" if service == "route53" else None}
        waited = 0.0
        for name in sorted(n for n in names if n):
            bucket = self.bucket(name)
            if bucket is not None:
                waited += bucket.acquire(low_priority=getattr(_local, "low", False))
        self.waited += waited
        return waited

    def before_send(self, service: str, event_name: str = "", **_: object) -> None:
        """botocore's `before-send.<service>.<Operation>` hook: once per attempt, retries included."""
        self.acquire(service, event_name.rsplit(".", 1)[-1])
