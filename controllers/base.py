"""What every controller is made of: a context to work in, the named changes a diff produces, results.

A controller converges one object. Its sub-resources are declared in dependency order; each has a
read-only `observe`, a pure `diff(desired, observed)` returning named `Change`s with field paths, and
idempotent `create` / `update` / `delete`. Retries, deadlines, persistence and concurrency belong to the
reactor: a controller only says what it did (`Done`) or what it is waiting for (`Wait`), or raises a
`TemporaryError` / `PermanentError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cloudfauj.aws import AwsError, Gateway
from cloudfauj.records import Record, StoredObject
from controllers.idempotency import already_exists
from controllers.reads import Reads

__all__ = [
    "AWS_CHANGES",
    "Condition",
    "Change",
    "Context",
    "Controller",
    "Done",
    "Result",
    "SubResource",
    "Wait",
    "field_changes",
]


@dataclass(frozen=True)
class Change:
    """One thing that differs between desired and observed state."""

    resource: str  # e.g. "vpc", "subnet/1", "service"
    action: str  # create | update | delete
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # path -> (observed, desired)

    def describe(self) -> str:
        if not self.fields:
            return f"{self.action} {self.resource}"
        parts = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in self.fields.items())
        return f"{self.action} {self.resource} ({parts})"


def field_changes(desired: dict[str, Any], observed: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The fields of `desired` whose observed value differs (a pure helper for diffs)."""
    return {k: (observed.get(k), v) for k, v in desired.items() if observed.get(k) != v}


AWS_CHANGES = "aws_changes"  # progress: how many AWS mutations the record's attempts got through


Condition = tuple[bool, str, str | None]  # a kind-specific status condition: (status, reason, message)


def _no_checkpoint() -> None:
    """Outside a record (plans, diffs) there is no progress to keep."""


@dataclass
class Done:
    """The object matches its spec (or, when deleting, every owned resource is gone)."""

    outputs: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    conditions: dict[str, Condition] = field(default_factory=dict)


@dataclass
class Wait:
    """Not there yet, and nothing is wrong: look again after `delay` seconds."""

    reason: str
    delay: float
    outputs: dict[str, Any] = field(default_factory=dict)
    event_type: str = "info"  # how the reason is logged when it changes (e.g. "rollout")
    conditions: dict[str, Condition] = field(default_factory=dict)


Result = Done | Wait


@dataclass
class Context:
    """Everything one reconcile attempt may use. Built by the reactor for each attempt."""

    obj: StoredObject
    record: Record | None
    aws: Gateway
    lookup: Callable[[str, str | None, str], StoredObject | None]
    dependents: Callable[[], list[StoredObject]]  # objects built on this one (an env's apps, a domain's envs)
    emit: Callable[..., None]  # emit(type, message, action=, resource=, request_id=)
    progress: dict[str, Any]  # persisted with the record between attempts
    settings: Any
    # Persist `progress` now, not only at the end of the attempt: a controller calls it after writing a
    # "create pending" marker (a key ending in `_pending`, naming what is about to be created) and before
    # the AWS call, so that a server killed during the call finds the marker on the next attempt and
    # adopts the resource instead of creating another (Crossplane's pattern). The reactor carries
    # `_pending` keys into the object's next record too (a newer apply, a deletion).
    checkpoint: Callable[[], None] = _no_checkpoint
    # batched, cached reads shared by the reactor's attempts (controllers.reads); none shared by default
    reads: Reads = field(default_factory=lambda: Reads(lambda env: [], ttl=0))

    @property
    def installation_id(self) -> str:
        return self.aws.installation_id

    def mutate(self, service: str, operation: str, /, *, resource: str, **params: Any) -> dict[str, Any]:
        """Call AWS to change something and log it as an event of the record. An answer that the thing
        already exists ends the attempt with a retry that observes it again (`controllers.idempotency`)."""
        try:
            response = self.aws.call(service, operation, **params)
        except AwsError as e:
            retry = already_exists(e, resource)
            if retry is None:
                raise
            raise retry from e
        self.progress[AWS_CHANGES] = int(self.progress.get(AWS_CHANGES, 0)) + 1
        request_id = response.get("ResponseMetadata", {}).get("RequestId")
        self.emit(
            "aws",
            f"{service}:{operation} {resource}",
            action=f"{service}:{operation}",
            resource=resource,
            request_id=request_id,
        )
        return response


class SubResource(Protocol):
    """One AWS resource an object owns."""

    name: str

    def observe(self, ctx: Context, state: dict[str, Any]) -> Any: ...

    def diff(self, desired: Any, observed: Any) -> list[Change]: ...


class Controller(Protocol):
    kind: str

    def plan(self, ctx: Context) -> list[Change]:
        """Observe and diff only: what `reconcile` would change (used for drift detection)."""

    def reconcile(self, ctx: Context) -> Result:
        """One pass towards the spec: observe, diff, act in dependency order."""

    def finalize(self, ctx: Context) -> Result:
        """One pass of deletion: remove owned resources in reverse dependency order."""
