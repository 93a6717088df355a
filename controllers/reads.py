"""Batched, briefly cached reads, so that keeping N applications in sync costs O(N/10) AWS calls.

A periodic resync compares every application with AWS. Asked one by one, that is one DescribeServices,
one DescribeSecurityGroups and one DescribeTaskDefinition per app. Here instead:
- DescribeServices asks for up to 10 services at once (AWS's limit): the app's own and the next siblings
  of its environment not seen recently, so a resync of N apps makes ⌈N/10⌉ calls;
- security groups are read once per VPC (by our ownership tag) and shared by the apps in it;
- task definition revisions are immutable: each is described once.

Only resync plans (no record) read through the cache. A record's own attempts always read AWS afresh,
and what they read replaces the cached entry, so a resync never compares with a state older than the
last deployment's.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from cloudfauj.aws import AwsError, Gateway

__all__ = ["BATCH", "Reads"]

BATCH = 10  # ecs:DescribeServices takes at most 10 services per call
_TD_CACHE = 4096


class Reads:
    def __init__(
        self,
        siblings: Callable[[str], list[str]],
        *,
        ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`siblings(env)`: the ECS service names of the environment's applications."""
        self._siblings, self._ttl, self._clock = siblings, ttl, clock
        self._services: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self._groups: dict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = {}
        self._definitions: OrderedDict[str, dict[str, Any] | None] = OrderedDict()
        self._lock = threading.Lock()

    def _fresh(self, at: float) -> bool:
        return self._clock() - at < self._ttl

    # -- ECS services ------------------------------------------------------------------------------
    def service(
        self, aws: Gateway, cluster: str, env: str, name: str, *, fresh: bool
    ) -> dict[str, Any] | None:
        """The ACTIVE service `name` (with tags) or None; `fresh` reads AWS (and updates the cache)."""
        with self._lock:
            cached = self._services.get((cluster, name))
            if not fresh and cached and self._fresh(cached[0]):
                return cached[1]
            names = [name]
            if not fresh:
                for other in self._siblings(env):
                    seen = self._services.get((cluster, other))
                    if other not in names and not (seen and self._fresh(seen[0])):
                        names.append(other)
                    if len(names) == BATCH:
                        break
        found = aws.call("ecs", "describe_services", cluster=cluster, services=names, include=["TAGS"])
        active = {s["serviceName"]: dict(s) for s in found["services"] if s.get("status") == "ACTIVE"}
        now = self._clock()
        with self._lock:
            for n in names:
                self._services[(cluster, n)] = (now, active.get(n))
        return active.get(name)

    def forget_service(self, cluster: str, name: str) -> None:
        with self._lock:
            self._services.pop((cluster, name), None)

    # -- security groups ---------------------------------------------------------------------------
    def security_groups(
        self, aws: Gateway, vpc: str, installation: str, *, fresh: bool
    ) -> list[dict[str, Any]]:
        """Every security group of ours in `vpc`, read once per VPC for all its apps."""
        key = (vpc, installation)
        with self._lock:
            cached = self._groups.get(key)
            if not fresh and cached and self._fresh(cached[0]):
                return cached[1]
        groups = aws.paginate(
            "ec2",
            "describe_security_groups",
            "SecurityGroups",
            Filters=[
                {"Name": "vpc-id", "Values": [vpc]},
                {"Name": "tag:cloudfauj:managed-by", "Values": [installation]},
            ],
        )
        with self._lock:
            self._groups[key] = (self._clock(), groups)
        return groups

    def forget_groups(self, vpc: str, installation: str) -> None:
        with self._lock:
            self._groups.pop((vpc, installation), None)

    # -- task definitions --------------------------------------------------------------------------
    def task_definition(self, aws: Gateway, ref: str) -> dict[str, Any] | None:
        """A task definition by ARN (immutable: described once) or by family (the latest: always read)."""
        immutable = ref.startswith("arn:") and ref.rsplit(":", 1)[-1].isdigit()
        if immutable:
            with self._lock:
                if ref in self._definitions:
                    self._definitions.move_to_end(ref)
                    return self._definitions[ref]
        try:
            td: dict[str, Any] | None = aws.call("ecs", "describe_task_definition", taskDefinition=ref)[
                "taskDefinition"
            ]
        except AwsError as e:
            if e.code not in ("ClientException", "InvalidParameterException"):
                raise
            td = None
        if immutable and td is not None and td.get("status") == "ACTIVE":
            with self._lock:
                self._definitions[ref] = td
                while len(self._definitions) > _TD_CACHE:
                    self._definitions.popitem(last=False)
        return td

    def remember_task_definition(self, td: dict[str, Any]) -> None:
        """What RegisterTaskDefinition answered: the revision as AWS keeps it."""
        with self._lock:
            self._definitions[str(td["taskDefinitionArn"])] = td
            while len(self._definitions) > _TD_CACHE:
                self._definitions.popitem(last=False)

    def expire(self) -> None:
        """Forget what can change (services, security groups); keep the immutable revisions."""
        with self._lock:
            self._services.clear()
            self._groups.clear()
