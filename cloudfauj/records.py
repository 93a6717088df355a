"""Stored objects and reconciliation records: the persisted types, and pure state changes on them.

Three types are kept apart (STYLE §5): the desired spec (`cloudfauj.manifests.Manifest`), the in-memory
outcome of one attempt (`Outcome`, produced by the reactor), and what is persisted here: a `StoredObject`
(desired spec + status) and a `Record` (one reconciliation of one generation, with its event log).
State changes are pure functions that return new values (`record.finish(...)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, overload

from cloudfauj.manifests import API_VERSION

__all__ = [
    "Cause",
    "Event",
    "Phase",
    "Record",
    "RecordStatus",
    "StoredObject",
    "TERMINAL",
    "format_time",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


# A datetime always formats to a string; only None gives None.
@overload
def format_time(at: datetime) -> str: ...
@overload
def format_time(at: datetime | None) -> str | None: ...


def format_time(at: datetime | None) -> str | None:
    """RFC 3339 UTC with microseconds and a Z, so timestamps sort as strings."""
    if at is None:
        return None
    # isoformat is faster than strftime; it ends in "+00:00", which becomes the "Z"
    return at.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class RecordStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"


TERMINAL = frozenset(
    {RecordStatus.SUCCEEDED, RecordStatus.FAILED, RecordStatus.SUPERSEDED, RecordStatus.CANCELLED}
)


class Cause(StrEnum):
    APPLY = "apply"
    ROLLBACK = "rollback"
    REDEPLOY = "redeploy"
    DRIFT = "drift"
    DELETE = "delete"


class Phase(StrEnum):
    PENDING = "pending"
    RECONCILING = "reconciling"
    READY = "ready"
    FAILED = "failed"
    DELETING = "deleting"


@dataclass(frozen=True)
class Event:
    """One step of a record's log. AWS mutations carry action, resource and request id."""

    seq: int
    at: str
    type: str  # info | aws | rollout | warning | error
    message: str
    action: str | None = None
    resource: str | None = None
    request_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "at": self.at, "type": self.type, "message": self.message}
        for key in ("action", "resource", "request_id"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class Record:
    """One reconciliation of one object generation (for an Application: a deployment)."""

    id: str
    kind: str
    name: str
    env: str | None
    generation: int
    status: RecordStatus
    cause: Cause
    created_at: str
    deadline: str
    spec: dict[str, Any]
    initiator: str | None = None
    source: str | None = None
    reason: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    image: str | None = None
    image_digest: str | None = None
    progress: dict[str, Any] = field(default_factory=dict)  # controller bookkeeping (e.g. ECS deployment id)
    cancel_requested: str | None = None  # who asked `cloudfauj cancel` for this record, until it ends

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def start(self, *, now: datetime) -> Record:
        if self.started_at:
            return replace(self, status=RecordStatus.IN_PROGRESS)
        return replace(self, status=RecordStatus.IN_PROGRESS, started_at=format_time(now))

    def finish(self, status: RecordStatus, reason: str | None, *, now: datetime) -> Record:
        return replace(
            self,
            status=status,
            reason=reason,
            started_at=self.started_at or format_time(now),
            finished_at=format_time(now),
        )

    def to_dict(self, events: list[Event] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "app": self.name if self.kind == "Application" else None,
            "env": self.env
            if self.kind == "Application"
            else (self.name if self.kind == "Environment" else None),
            "domain": self.name if self.kind == "Domain" else None,
            "image": self.image,
            "image_digest": self.image_digest,
            "generation": self.generation,
            "status": str(self.status),
            "reason": self.reason,
            "cause": str(self.cause),
            "initiator": self.initiator,
            "source": self.source,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "deadline": self.deadline,
            "duration_seconds": _duration(self.started_at, self.finished_at),
            "aws_calls": dict(sorted(self.progress.get("aws_calls", {}).items())),
            "spec": self.spec,
        }
        if events is not None:
            out["events"] = [e.to_dict() for e in events]
        return out


def _duration(started: str | None, finished: str | None) -> float | None:
    start, end = parse_time(started), parse_time(finished)
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


@dataclass(frozen=True)
class StoredObject:
    """An applied object: its desired spec, generation and last observed status."""

    kind: str
    name: str
    env: str | None
    spec: dict[str, Any]
    generation: int
    created_at: str
    updated_at: str
    status: dict[str, Any] = field(default_factory=dict)
    deleting: bool = False
    cascade: bool = False

    @property
    def key(self) -> str:
        return object_key(self.kind, self.env, self.name)

    @property
    def phase(self) -> str:
        return str(self.status.get("phase", Phase.PENDING))

    def to_dict(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name}
        if self.kind == "Application":
            metadata["env"] = self.env
        metadata.update(generation=self.generation, created_at=self.created_at, updated_at=self.updated_at)
        status = {
            "phase": self.status.get("phase", str(Phase.PENDING)),
            "observed_generation": self.status.get("observed_generation", 0),
            "conditions": self.status.get("conditions", []),
            "outputs": self.status.get("outputs", {}),
            "message": self.status.get("message"),
            "last_record": self.status.get("last_record"),
        }
        return {
            "apiVersion": API_VERSION,
            "kind": self.kind,
            "metadata": metadata,
            "spec": self.spec,
            "status": status,
        }


def object_key(kind: str, env: str | None, name: str) -> str:
    """The reactor's key for an object: `Environment/staging`, `Application/staging/web`."""
    return f"{kind}/{env}/{name}" if kind == "Application" else f"{kind}/{name}"


def parse_key(key: str) -> tuple[str, str | None, str]:
    parts = key.split("/")
    if parts[0] == "Application":
        return parts[0], parts[1], parts[2]
    return parts[0], None, parts[1]
