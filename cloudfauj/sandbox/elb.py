"""Target health in moto's ELBv2 as an ALB in front of ECS reports it (ARCHITECTURE §8).

moto reports every registered target `healthy` at once. The sandbox overrides that for the targets its
tasks register (`tasks.py`): a target can be marked `INITIAL` (health checks still running, while a
rollout is in progress) or `UNHEALTHY` (the image was pushed with `unhealthy=True`); clearing the mark
gives moto's `healthy` back. Targets registered through the ELBv2 API are never marked. The marks live on
moto's target group objects, so `/moto-api/reset` forgets them together with the groups.

ELBv2 requests run under `rollout.LOCK`, like ECS requests, so a describe never sees a task half
registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.acm.models import CertBundle
from moto.ec2.models import EC2Backend
from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup
from moto.elbv2.responses import ELBV2Response

__all__ = ["INITIAL", "UNHEALTHY", "Health", "install", "mark"]

_ATTR = "_cloudfauj_sandbox_health"
_installed = False


@dataclass(frozen=True)
class Health:
    """A target's TargetHealth as ELBv2 reports it."""

    state: str
    reason: str
    description: str


INITIAL = Health("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
UNHEALTHY = Health("unhealthy", "Target.ResponseCodeMismatch", "Health checks failed with these codes: [503]")


def _marks(group: FakeTargetGroup) -> dict[str, Health]:
    marks: dict[str, Health] | None = getattr(group, _ATTR, None)
    if marks is None:
        marks = {}
        setattr(group, _ATTR, marks)
    return marks


def mark(group: FakeTargetGroup, target_id: str, health: Health | None) -> None:
    """Report `health` for the target from now on; None gives moto's answer back (`healthy` if registered)."""
    if health is None:
        _marks(group).pop(target_id, None)
    else:
        _marks(group)[target_id] = health


def _health_for(original: Callable[..., FakeHealthStatus]) -> Callable[..., FakeHealthStatus]:
    def health_for(
        self: FakeTargetGroup, target: dict[str, Any], ec2_backend: EC2Backend
    ) -> FakeHealthStatus:
        status = original(self, target, ec2_backend)
        health = _marks(self).get(target["Id"])
        if health is None or target["Id"] not in self.targets:
            return status
        return FakeHealthStatus(
            status.instance_id,
            status.port,
            status.health_check_port,
            health.state,
            health.reason,
            health.description,
        )

    return health_for


def _locked(original: Callable[..., Any]) -> Callable[..., Any]:
    from cloudfauj.sandbox import rollout  # here: rollout imports tasks, which imports this module

    def call_action(self: ELBV2Response) -> Any:
        with rollout.LOCK:
            return original(self)

    return call_action


def _live_users(describe: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    """moto records a certificate's listeners in `InUseBy` but never forgets a deleted one, so a certificate
    would look in use forever; AWS drops a listener from the list once it is gone."""

    def describe_live(bundle: Any) -> dict[str, Any]:
        from moto.elbv2.models import elbv2_backends

        _, _, _, region, account, _ = str(bundle.arn).split(":", 5)
        balancers = elbv2_backends[account][region].load_balancers
        live = set(balancers) | {arn for lb in balancers.values() for arn in lb.listeners}
        bundle.in_use_by[:] = [user for user in bundle.in_use_by if user in live]
        return describe(bundle)

    return describe_live


def install() -> None:
    """Patch moto's ELBv2 classes, once per process."""
    global _installed
    if _installed:
        return
    CertBundle.describe = _live_users(CertBundle.describe)  # type: ignore[method-assign,assignment]
    FakeTargetGroup.health_for = _health_for(FakeTargetGroup.health_for)  # type: ignore[method-assign]
    ELBV2Response.call_action = _locked(ELBV2Response.call_action)  # type: ignore[method-assign]
    _installed = True
