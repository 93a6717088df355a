"""The reactor: workers that take keys off the queue and run one reconcile attempt each.

An attempt runs in a thread (controllers use blocking boto3), reads the object and its open record from
the store, asks the kind's controller to reconcile (or finalize, when deleting), and turns what came back
into an `Outcome` — the one place where any exception becomes a value (STYLE §4). Applying the outcome
to the record and the object's status is in `cloudfauj.reactor.outcomes`.
On start every stored object is queued, which both resumes unfinished records and re-observes AWS.

Crash safety: a controller's `ctx.checkpoint()` saves the record's progress in the middle of an attempt
(a "create pending" marker written before the AWS call), and a record's first attempt takes over the
markers the object's previous record left (`_inherit_markers`), so a marker outlives both a crash and a
newer generation. A record without an object (`cloudfauj gc`) runs against a stand-in built from it.

Replicas (several servers on one PostgreSQL store): a worker first claims the key's lease, and runs the
attempt under it (`store.fencing`: a write after another replica took the key over is refused with
`LeaseLost`, which ends the attempt here). The lease is kept while the key has more work queued, renewed
every `lease_retry_seconds`, given up when it could not be renewed for `lease_renew_seconds`, and let go
when the key is idle. Other replicas' changes arrive through `store.watch`; every `lease_retry_seconds`
the keys with unfinished records that nobody holds (a dead replica's) are queued, so its work resumes
here soon after its leases expire. With SQLite the one process holds every lease.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from cloudfauj.aws import AwsTemporaryError, Gateway
from cloudfauj.aws.accounting import attributed
from cloudfauj.errors import LeaseLost, PermanentError, TemporaryError
from cloudfauj.metrics import RECONCILE_DURATION, count_deployment, watch_queue
from cloudfauj.priority import FOREGROUND
from cloudfauj.reactor.outcomes import Outcome, OutcomeWriter
from cloudfauj.reactor.queue import WorkQueue
from cloudfauj.records import (
    Cause,
    Record,
    RecordStatus,
    StoredObject,
    object_key,
    parse_key,
    parse_time,
    utcnow,
)
from cloudfauj.settings import Settings
from cloudfauj.store import Lease, Store
from controllers import naming
from controllers.base import AWS_CHANGES, Change, Context, Controller, Done
from controllers.reads import Reads

__all__ = ["PENDING_SUFFIX", "Reactor", "dependents"]

log = logging.getLogger("cloudfauj.reactor")
PENDING_SUFFIX = "_pending"  # progress keys that are "create pending" markers (see Context.checkpoint)
_ENDED_AS = {"done": "succeeded", "failed": "failed", "cancelled": "cancelled"}  # for the metrics


def dependents(store: Store, obj: StoredObject) -> list[StoredObject]:
    """Objects built on `obj`: an environment's applications, the environments using a domain."""
    if obj.kind == "Environment":
        return store.list_objects("Application", env=obj.name)
    if obj.kind == "Domain":
        return [e for e in store.list_objects("Environment") if e.spec.get("domain") == obj.name]
    return []


def drift_policy(obj: StoredObject, settings: Settings) -> str:
    """`correct` or `report`: the object's own `drift` field, else the server's default."""
    return str(obj.spec.get("drift") or settings.drift)


class Reactor:
    def __init__(
        self,
        store: Store,
        aws: Gateway,
        settings: Settings,
        controllers: dict[str, Controller],
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.store, self.aws, self.settings, self.controllers = store, aws, settings, controllers
        self.queue = WorkQueue(clock)
        watch_queue(lambda: len(self.queue))
        self._now, self._jitter = now, jitter
        self._failures: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.writer = OutcomeWriter(store, now, replica=settings.replica_id)
        self.replica = settings.replica_id
        self._held: dict[str, Lease] = {}  # leases this replica holds, by key
        self._resyncing: set[str] = set()  # keys the periodic resync queued, not yet attempted
        # batched reads for resync: ⌈N/10⌉ DescribeServices for N apps of an environment
        self.reads = Reads(
            lambda env: [naming.service(a.name) for a in store.list_objects("Application", env=env)]
        )
        self.ready = False

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        objects = await asyncio.to_thread(self.store.list_objects)
        for obj in objects:
            self.queue.add(obj.key)
        unfinished = await asyncio.to_thread(self.store.unfinished_records)
        for record in unfinished:  # records without an object (gc) are resumed by their own key
            if self._objectless(record.kind):
                self.queue.add(object_key(record.kind, record.env, record.name))
        log.info("resuming %d unfinished records, observing %d objects", len(unfinished), len(objects))
        for i in range(self.settings.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"reactor-worker-{i}"))
        self._tasks.append(asyncio.create_task(self._resync(), name="reactor-resync"))
        self._tasks.append(asyncio.create_task(self._renew(), name="reactor-lease-renew"))
        self._tasks.append(asyncio.create_task(self._adopt(), name="reactor-lease-adopt"))
        self.store.watch(self.enqueue)
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._loop = None
        for lease in list(self._held.values()):  # a clean stop hands its keys over at once
            await asyncio.to_thread(self.store.release_lease, lease)
        self._held.clear()

    def enqueue(self, key: str, delay: float = 0.0) -> None:
        """Queue a key from any thread (the API after storing a change, the store's listener after
        another replica's)."""
        loop = self._loop
        if loop is None:
            return  # not started (start() queues every object anyway), or stopped
        try:
            loop.call_soon_threadsafe(self.queue.add, key, delay)
        except RuntimeError:
            pass  # the loop closed while the server stops: whoever holds the key next reads the store

    # -- workers ---------------------------------------------------------------------------------
    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                delay = await asyncio.to_thread(self._leased_attempt, key)
            except Exception as e:  # noqa: BLE001 - the store itself failed (e.g. its database went away):
                # this worker must live on; the key is tried again later, under whatever lease then holds
                log.warning("could not work on %s: %s: %s", key, type(e).__name__, e)
                self._held.pop(key, None)
                delay = self.settings.lease_seconds * (0.5 + self._jitter() / 2)
            finally:
                self.queue.done(key)
            if delay is not None:
                self.queue.add(key, delay)

    def _leased_attempt(self, key: str) -> float | None:
        """One attempt at `key` if this replica holds (or can take) its lease; None when another does."""
        lease = self.store.claim_lease(key, self.replica, self.settings.lease_seconds)
        if lease is None:
            self._held.pop(key, None)
            log.debug("%s is leased by another replica", key)
            return None
        self._held[key] = lease
        try:
            with self.store.fencing(lease):
                delay = self.attempt(key, lease=lease)
        except LeaseLost as e:
            log.warning("stopped working on %s: %s", key, e.message)
            self._held.pop(key, None)
            return None
        if delay is None:
            self._held.pop(key, None)
            self.store.release_lease(lease)
        return delay

    async def _renew(self) -> None:
        """Keep this replica's leases alive; stop working on keys whose lease is lost or not renewable."""
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self.settings.lease_retry_seconds)
            held = dict(self._held)
            keys = list(held)
            try:
                lost = await asyncio.to_thread(
                    self.store.renew_leases, keys, self.replica, self.settings.lease_seconds
                )
                renewed = time.monotonic()
            except Exception as e:  # noqa: BLE001 - the database is unreachable: keep trying until the
                # renew deadline, then give every key up (another replica may have them by now)
                log.warning("could not renew leases: %s: %s", type(e).__name__, e)
                if time.monotonic() - renewed < self.settings.lease_renew_seconds:
                    continue
                lost = keys
            for key in lost:
                if self._held.get(key) is held[key]:  # not claimed again meanwhile
                    del self._held[key]
                    log.warning("lost the lease on %s: another replica may carry on with it", key)

    async def _adopt(self) -> None:
        """Queue the keys with unfinished records that no replica holds: a dead replica's work."""
        while True:
            await asyncio.sleep(self.settings.lease_retry_seconds)
            try:
                keys = await asyncio.to_thread(self.store.orphaned_keys)
            except Exception as e:  # noqa: BLE001 - the database is unreachable: look again next time
                log.warning("could not look for unleased work: %s: %s", type(e).__name__, e)
                continue
            for key in keys:
                if key not in self.queue.processing:
                    self.queue.add(key)

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.settings.resync_seconds)
            objects = await asyncio.to_thread(self.store.list_objects)
            for obj in objects:
                self._resyncing.add(obj.key)
                self.queue.add(obj.key, self._jitter() * min(30.0, self.settings.resync_seconds / 10))

    # -- one attempt (runs in a thread) ------------------------------------------------------------
    def attempt(self, key: str, *, lease: Lease | None = None) -> float | None:
        """Run one reconcile attempt for `key`; return when to look again (None: at the next resync)."""
        with FOREGROUND.background():  # API requests go first (cloudfauj.priority)
            FOREGROUND.give_way()
            return self._attempt(key, lease)

    def _attempt(self, key: str, lease: Lease | None) -> float | None:
        kind, env, name = parse_key(key)
        obj = self.store.get_object(kind, env, name) or self._standin(kind, env, name)
        if obj is None:
            return None
        controller = self.controllers[kind]
        record = self.store.current_record(kind, env, name)
        resync = key in self._resyncing
        self._resyncing.discard(key)
        if record is None and resync and self._checked_lately(obj):
            return None  # another replica compared it moments ago: once per period is enough
        if record is None:
            try:
                record = self._check_drift(controller, obj)
            except TemporaryError as e:  # e.g. its environment is converging: compare again soon
                log.info("resync of %s postponed: %s", obj.key, e.message)
                return e.delay or self.settings.backoff_max_seconds
            if record is None:
                return None
        if record.status == RecordStatus.PENDING:
            record = self.writer.started(obj, self._inherit_markers(record))
        elif lease is not None and lease.taken_from is not None:
            self.store.append_event(
                record.id,
                "warning",
                f"Replica {self.replica} took over from replica {lease.taken_from}, whose lease expired.",
            )
        if record.cancel_requested:
            message = f"Cancelled by {record.cancel_requested}."
            return self._apply(obj, record, self._abandon(controller, obj, record, message, cancel=True))
        deadline = parse_time(record.deadline)
        if deadline and self._now() > deadline:
            waited = record.progress.get("last_wait") or "the reconciliation was still in progress"
            message = f"Deadline of {record.deadline} passed (deadline exceeded): {waited}"
            return self._apply(obj, record, self._abandon(controller, obj, record, message, cancel=False))
        if record.cause == Cause.DRIFT and not record.progress.get("drift_checked"):
            reported = self._report_drift(controller, obj, record)
            if reported is not None:
                return self._apply(obj, record, reported)
            record = self.store.get_record(record.id) or record
        ctx = self._context(obj, record)
        changed = ctx.progress.get(AWS_CHANGES, 0)
        started = time.perf_counter()
        with attributed() as calls:
            outcome = self._run(controller, ctx, obj)
        RECONCILE_DURATION.labels(kind=kind).observe(time.perf_counter() - started)
        if calls and outcome.progress is not None:  # what this record has cost in AWS calls so far
            outcome.progress["aws_calls"] = dict(Counter(outcome.progress.get("aws_calls", {})) + calls)
        if ctx.progress.get(AWS_CHANGES, 0) != changed:
            # It got changes through before it stopped: a failure now is a new one, not the same one
            # again, so the backoff starts over (under steady throttling, every attempt gets further).
            self._failures.pop(obj.key, None)
        return self._apply(obj, record, outcome)

    def _objectless(self, kind: str) -> bool:
        return bool(getattr(self.controllers.get(kind), "objectless", False))

    def _standin(self, kind: str, env: str | None, name: str) -> StoredObject | None:
        """The object an object-less record (garbage collection) works on, built from its open record."""
        record = self.store.current_record(kind, env, name) if self._objectless(kind) else None
        if record is None:
            return None
        return StoredObject(
            kind=kind,
            name=name,
            env=env,
            spec=record.spec,
            generation=record.generation,
            created_at=record.created_at,
            updated_at=record.created_at,
        )

    def _inherit_markers(self, record: Record) -> Record:
        """Start a record with the "create pending" markers its object's previous record left: a marker
        names something that may exist in AWS without being findable by its tags yet (e.g. a hosted zone
        created but not tagged when the server died), and must be adopted whichever record runs next."""
        if any(k.endswith(PENDING_SUFFIX) for k in record.progress):
            return record
        earlier = self.store.list_records(
            kind=record.kind, env=record.env, name=record.name, before=record.id, limit=10
        )
        for previous in earlier:
            if previous.started_at is None:
                continue  # superseded before it ran: it wrote nothing
            markers = {k: v for k, v in previous.progress.items() if k.endswith(PENDING_SUFFIX)}
            return replace(record, progress={**markers, **record.progress}) if markers else record
        return record

    def _abandon(
        self, controller: Controller, obj: StoredObject, record: Record, message: str, *, cancel: bool
    ) -> Outcome:
        """Stop a record's work (cancelled, or past its deadline) and, for a deployment, put the service
        back on the last revision that succeeded, so nothing is left half-rolled-out."""
        restore = getattr(controller, "restore", None)
        if restore is not None and not obj.deleting:
            good = self.store.list_records(
                kind=obj.kind, env=obj.env, name=obj.name, status=str(RecordStatus.SUCCEEDED), limit=1
            )
            ctx = self._context(obj, record)
            try:
                message = f"{message} {restore(ctx, good[0] if good else None)}"
            except Exception as e:  # noqa: BLE001 - the record must end anyway; say what was left undone
                log.warning("could not restore %s: %s", obj.key, e)
                message = f"{message} The service could not be returned to its last good revision: {e}"
            record = replace(record, progress=ctx.progress)
        if cancel:
            return Outcome.cancelled(message, progress=record.progress)
        return Outcome.failed(message, progress=record.progress)

    def _report_drift(self, controller: Controller, obj: StoredObject, record: Record) -> Outcome | None:
        """The first step of a drift record (resync found drift, or `cloudfauj reconcile` asked): log
        what differs, field by field; end the record when nothing does or the drift policy is `report`."""
        ctx = self._context(obj, record)
        try:
            changes = controller.plan(ctx)
        except TemporaryError:
            return None  # cannot compare yet (e.g. the environment is converging): reconcile as usual
        except PermanentError as e:
            return Outcome.failed(e.message)
        known = {ev.message for ev in self.store.events(record.id) if ev.type == "warning"}
        for change in changes:
            if f"Drift: {change.describe()}" not in known:
                self.store.append_event(record.id, "warning", f"Drift: {change.describe()}")
        self.writer.drifted(obj, changes)
        self.store.save_record(replace(record, progress={**record.progress, "drift_checked": True}))
        if not changes:
            return Outcome.done("No drift: AWS matches the spec.", outputs={}, progress=record.progress)
        if drift_policy(obj, self.settings) == "report":
            message = f"Drift reported, not corrected (drift policy: report): {len(changes)} change(s)."
            drifted = (True, "DriftDetected", "; ".join(c.describe() for c in changes))
            return Outcome.done(
                message, outputs={}, progress=record.progress, conditions={"Drifted": drifted}
            )
        return None

    def _run(self, controller: Controller, ctx: Context, obj: StoredObject) -> Outcome:
        try:
            result = controller.finalize(ctx) if obj.deleting else controller.reconcile(ctx)
        except AwsTemporaryError as e:
            # Throttling or a 5xx that outlasted botocore's retries: back off, and log each such retry as
            # its own event (the writer logs a retry's message only when it changes, hence the count).
            retries = ctx.progress["aws_retries"] = int(ctx.progress.get("aws_retries", 0)) + 1
            message = f"Retry {retries} after a transient AWS error: {e.message}"
            return Outcome.retry(message, delay=e.delay, progress=ctx.progress)
        except TemporaryError as e:
            return Outcome.retry(e.message, delay=e.delay, progress=ctx.progress)
        except PermanentError as e:
            return Outcome.failed(e.message, progress=ctx.progress)
        except LeaseLost:
            raise  # another replica holds the key now: this attempt ends here, without a word written
        except Exception as e:  # noqa: BLE001 - the one place any error becomes an outcome (STYLE §4)
            log.exception("unexpected error reconciling %s", obj.key)
            return Outcome.retry(
                f"Unexpected error: {type(e).__name__}: {e}", delay=None, progress=ctx.progress
            )
        if isinstance(result, Done):
            return Outcome.done(
                result.message, outputs=result.outputs, progress=ctx.progress, conditions=result.conditions
            )
        return Outcome.waiting(
            result.reason,
            delay=result.delay,
            outputs=result.outputs,
            progress=ctx.progress,
            event_type=result.event_type,
            conditions=result.conditions,
        )

    def _apply(self, obj: StoredObject, record: Record, outcome: Outcome) -> float | None:
        self.writer.write(obj, record, outcome)
        if not obj.deleting:
            count_deployment(obj.kind, _ENDED_AS.get(outcome.kind, ""))
        if outcome.kind == "retry":
            if outcome.delay is not None:
                # A retry the controller scheduled (a dependency not ready, "observe again") is not a
                # failure that should lengthen the backoff of the next transient error.
                return outcome.delay
            failures = self._failures.get(obj.key, 0) + 1
            self._failures[obj.key] = failures
            base: float = min(  # `2 ** n` is Any to mypy (a negative n would give a float)
                self.settings.backoff_base_seconds * 2 ** (failures - 1), self.settings.backoff_max_seconds
            )
            return base * (0.5 + self._jitter() / 2)
        self._failures.pop(obj.key, None)
        if outcome.kind == "waiting":
            return outcome.delay
        if outcome.kind == "done" and not obj.deleting:
            # What is built on this object reads its outputs: let it compare itself with them again.
            for dependent in dependents(self.store, obj):
                self.enqueue(dependent.key)
        return None

    def _context(self, obj: StoredObject, record: Record | None) -> Context:
        def emit(type: str, message: str, **fields: Any) -> None:
            if record is None:
                log.info("%s: %s", obj.key, message)
            else:
                self.store.append_event(record.id, type, message, **fields)

        progress = dict(record.progress) if record else {}

        def checkpoint() -> None:
            # The store ignores saves of a record that ended meanwhile (superseded): the newer record
            # inherits the markers its predecessor saved (`_inherit_markers`).
            if record is not None:
                self.store.save_record(replace(record, progress=dict(progress)))

        return Context(
            obj=obj,
            record=record,
            aws=self.aws,
            lookup=self.store.get_object,
            dependents=lambda: dependents(self.store, obj),
            emit=emit,
            progress=progress,
            settings=self.settings,
            checkpoint=checkpoint,
            reads=self.reads,
        )

    def plan(self, obj: StoredObject) -> list[Change]:
        """What reconciling `obj` (stored or only proposed) would change in AWS, without changing it."""
        return self.controllers[obj.kind].plan(self._context(obj, None))

    def _checked_lately(self, obj: StoredObject) -> bool:
        """Whether AWS was compared with this object's spec within the last half resync period (every
        replica runs the periodic resync; the store says when any of them last compared)."""
        checked = parse_time(obj.status.get("checked_at"))
        return checked is not None and self._now() - checked < timedelta(
            seconds=self.settings.resync_seconds / 2
        )

    def _check_drift(self, controller: Controller, obj: StoredObject) -> Record | None:
        """Resync: compare AWS with the spec; open a `drift` record when they differ (or only report it)."""
        if obj.deleting or obj.phase == "failed":
            return None  # a failed generation is retried by a new apply, not by resync
        try:
            changes = controller.plan(self._context(obj, None))
        except PermanentError as e:
            log.info("resync of %s skipped: %s", obj.key, e.message)
            return None
        previous = next((c for c in obj.status.get("conditions", []) if c["type"] == "Drifted"), None)
        self.writer.drifted(obj, changes)
        if not changes:
            return None
        message = "; ".join(c.describe() for c in changes)
        if drift_policy(obj, self.settings) == "report" and previous and previous.get("message") == message:
            return None  # reported already: one record per drift, not one per resync
        # The record's first attempt compares again from fresh reads (this one may have used the batched
        # cache), logs each difference and corrects or only reports it: `_report_drift`.
        return self.store.open_record(
            obj,
            cause=Cause.DRIFT,
            initiator="cloudfauj",
            source="resync",
            deadline_seconds=self.settings.deadline_seconds,
        )
