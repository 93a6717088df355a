"""Outcomes of reconcile attempts, and how they change records and object statuses.

`Outcome` is the in-memory result of one attempt; `OutcomeWriter` persists it: the record's status and
progress, one event per meaningful change, and the object's status (phase, conditions, outputs,
observed_generation). Writes are guarded by the store: a record that was superseded meanwhile is never
overwritten, and then the object's status is left to the newer record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cloudfauj.records import Phase, Record, RecordStatus, StoredObject, format_time
from cloudfauj.store import Store
from controllers.base import Change, Condition

__all__ = ["Outcome", "OutcomeWriter"]


@dataclass(frozen=True)
class Outcome:
    kind: str  # done | waiting | retry | failed | cancelled
    message: str | None = None
    delay: float | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    progress: dict[str, Any] | None = None
    event_type: str | None = None
    conditions: dict[str, Condition] = field(default_factory=dict)

    @classmethod
    def done(
        cls,
        message: str | None,
        *,
        outputs: dict[str, Any],
        progress: dict[str, Any],
        conditions: dict[str, Condition] | None = None,
    ) -> Outcome:
        return cls("done", message, outputs=outputs, progress=progress, conditions=conditions or {})

    @classmethod
    def waiting(
        cls,
        message: str,
        *,
        delay: float,
        outputs: dict[str, Any],
        progress: dict[str, Any],
        event_type: str = "info",
        conditions: dict[str, Condition] | None = None,
    ) -> Outcome:
        return cls(
            "waiting",
            message,
            delay=delay,
            outputs=outputs,
            progress=progress,
            event_type=event_type,
            conditions=conditions or {},
        )

    @classmethod
    def retry(cls, message: str, *, delay: float | None, progress: dict[str, Any]) -> Outcome:
        return cls("retry", message, delay=delay, progress=progress)

    @classmethod
    def failed(cls, message: str, *, progress: dict[str, Any] | None = None) -> Outcome:
        return cls("failed", message, progress=progress)

    @classmethod
    def cancelled(cls, message: str, *, progress: dict[str, Any] | None = None) -> Outcome:
        return cls("cancelled", message, progress=progress)


def condition(
    previous: list[dict[str, Any]], type: str, status: bool, reason: str, message: str | None, now: str
) -> list[dict[str, Any]]:
    """The conditions list with `type` set; last_transition moves only when the status flips."""
    value = "True" if status else "False"
    old = next((c for c in previous if c["type"] == type), None)
    since = old["last_transition"] if old and old["status"] == value else now
    new = {"type": type, "status": value, "reason": reason, "message": message, "last_transition": since}
    return [c for c in previous if c["type"] != type] + [new]


def _with(previous: list[dict[str, Any]], extra: dict[str, Condition], now: str) -> list[dict[str, Any]]:
    for type, (status, reason, message) in extra.items():
        previous = condition(previous, type, status, reason, message, now)
    return previous


class OutcomeWriter:
    def __init__(self, store: Store, now: Callable[[], datetime], *, replica: str | None = None) -> None:
        self.store, self._now, self.replica = store, now, replica

    def _status(self, obj: StoredObject, **changes: Any) -> dict[str, Any]:
        fresh = self.store.get_object(obj.kind, obj.env, obj.name)
        status = dict(fresh.status if fresh else obj.status)
        status.update(changes)
        return status

    def started(self, obj: StoredObject, record: Record) -> Record:
        record = record.start(now=self._now())
        self.store.save_record(record)
        verb = "Deleting" if record.cause == "delete" else "Reconciling"
        self.store.append_event(
            record.id,
            "info",
            f"{verb} {obj.kind} {obj.name} generation {record.generation} (cause: {record.cause})"
            + (f" on replica {self.replica}." if self.replica else "."),
        )
        phase = Phase.DELETING if obj.deleting else Phase.RECONCILING
        self.store.set_status(
            obj.kind,
            obj.env,
            obj.name,
            self._status(obj, phase=str(phase), last_record=record.id, message=None),
        )
        return record

    def write(self, obj: StoredObject, record: Record, outcome: Outcome) -> None:
        now = self._now()
        stamp = format_time(now) or ""
        progress = dict(outcome.progress if outcome.progress is not None else record.progress)
        if outcome.kind in ("waiting", "retry"):
            if progress.get("last_wait") != outcome.message:
                progress["last_wait"] = outcome.message
                self.store.append_event(record.id, outcome.event_type or "warning", outcome.message or "")
            self.store.save_record(replace(record, progress=progress))
            if outcome.outputs or outcome.conditions:
                status = self._status(obj)
                status["outputs"] = {**status.get("outputs", {}), **outcome.outputs}
                status["conditions"] = _with(status.get("conditions", []), outcome.conditions, stamp)
                self.store.set_status(obj.kind, obj.env, obj.name, status)
            return
        succeeded = outcome.kind == "done"
        final = replace(record, progress=progress).finish(
            {"done": RecordStatus.SUCCEEDED, "cancelled": RecordStatus.CANCELLED}.get(
                outcome.kind, RecordStatus.FAILED
            ),
            None if succeeded else outcome.message,
            now=now,
        )
        self.store.save_record(final)
        current = self.store.get_record(record.id)
        if current is None or current.status != final.status:
            return  # superseded meanwhile: the newer record owns the object's status
        self.store.append_event(
            record.id,
            {"done": "info", "cancelled": "warning"}.get(outcome.kind, "error"),
            outcome.message or ("Succeeded." if succeeded else "Failed."),
        )
        if succeeded and obj.deleting:
            self.store.remove_object(obj.kind, obj.env, obj.name)
            return
        fresh = self.store.get_object(obj.kind, obj.env, obj.name)
        conditions = list((fresh or obj).status.get("conditions", []))
        if succeeded:
            status = self._status(
                obj,
                phase=str(Phase.READY),
                observed_generation=record.generation,
                message=outcome.message,
                outputs=outcome.outputs or (fresh or obj).status.get("outputs", {}),  # complete: replaces
                conditions=condition(conditions, "Ready", True, "Reconciled", outcome.message, stamp),
            )
            status["conditions"] = condition(status["conditions"], "Drifted", False, "InSync", None, stamp)
            status["conditions"] = _with(status["conditions"], outcome.conditions, stamp)
        else:
            status = self._status(
                obj,
                phase=str(Phase.FAILED),
                message=outcome.message,
                conditions=condition(
                    conditions,
                    "Ready",
                    False,
                    "Cancelled" if outcome.kind == "cancelled" else "ReconcileFailed",
                    outcome.message,
                    stamp,
                ),
            )
        self.store.set_status(obj.kind, obj.env, obj.name, status)

    def drifted(self, obj: StoredObject, changes: list[Change]) -> None:
        """Record the result of a resync comparison in the object's `Drifted` condition, and when it was
        made (`checked_at`: replicas skip a periodic comparison another one has just made)."""
        stamp = format_time(self._now()) or ""
        message = "; ".join(c.describe() for c in changes) or None
        conditions = condition(
            obj.status.get("conditions", []),
            "Drifted",
            bool(changes),
            "DriftDetected" if changes else "InSync",
            message,
            stamp,
        )
        self.store.set_status(
            obj.kind, obj.env, obj.name, self._status(obj, conditions=conditions, checked_at=stamp)
        )
