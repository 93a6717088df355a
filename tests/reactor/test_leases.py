"""How the reactor uses leases (several replicas on one store): it works on a key only while it holds the
key's lease, keeps the lease while the key has more work and lets it go when the key is idle, logs a
takeover on the record, and stops at once when a write is refused because another replica took the key
over. Two reactors named as two replicas share one SQLite store here; a stub controller converges on
demand and nothing calls AWS. (The same over PostgreSQL, with real processes: tests/e2e/test_replicas.py.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudfauj.aws import Gateway
from cloudfauj.reactor import Reactor
from cloudfauj.records import RecordStatus
from cloudfauj.settings import Settings
from cloudfauj.store import SqliteStore
from controllers.base import Change, Context, Done, Result, Wait
from tests.reactor.test_aws_retries import KEY, apply


class Stepper:
    """Waits (observe again in 1 s) until told to converge; `hook` runs inside each reconcile."""

    kind = "Environment"

    def __init__(self) -> None:
        self.converge = False
        self.attempts = 0
        self.hook = lambda: None

    def plan(self, ctx: Context) -> list[Change]:
        return []

    def reconcile(self, ctx: Context) -> Result:
        self.attempts += 1
        self.hook()
        if self.converge:
            return Done(message="Converged.")
        return Wait(reason="Rollout in progress.", delay=1.0)

    def finalize(self, ctx: Context) -> Result:
        return Done()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "cloudfauj.db")
    yield store
    store.close()


def replica(store: SqliteStore, name: str, controller: Stepper) -> Reactor:
    aws = Gateway(region="us-east-1", endpoint_url=None, installation_id="t", credentials=("a", "b"))
    settings = Settings(replica_id=name, lease_seconds=0.3, lease_renew_seconds=0.2, lease_retry_seconds=0.1)
    return Reactor(store, aws, settings, {"Environment": controller})


def test_a_key_is_worked_on_by_the_replica_holding_its_lease_only(store: SqliteStore) -> None:
    record_id = apply(store)
    one, two = Stepper(), Stepper()
    r1, r2 = replica(store, "r1", one), replica(store, "r2", two)
    assert r1._leased_attempt(KEY) == 1.0  # more to do: r1 keeps the lease
    assert r2._leased_attempt(KEY) is None and two.attempts == 0
    one.converge = True
    assert r1._leased_attempt(KEY) is None  # done: the lease is let go at once
    assert store.claim_lease(KEY, "r2", 1) is not None
    messages = [e.message for e in store.events(record_id)]
    assert "Reconciling Environment staging generation 1 (cause: apply) on replica r1." in messages


def test_a_replica_takes_over_a_lapsed_lease_and_says_so_on_the_record(store: SqliteStore) -> None:
    record_id = apply(store)
    one, two = Stepper(), Stepper()
    r1, r2 = replica(store, "r1", one), replica(store, "r2", two)
    assert r1._leased_attempt(KEY) == 1.0
    assert store.orphaned_keys() == []
    time.sleep(0.4)  # r1 died: its lease lapses
    assert store.orphaned_keys() == [KEY]
    two.converge = True
    assert r2._leased_attempt(KEY) is None
    record = store.get_record(record_id)
    assert record is not None and record.status == RecordStatus.SUCCEEDED
    messages = [e.message for e in store.events(record_id)]
    assert "Replica r2 took over from replica r1, whose lease expired." in messages


def test_a_replica_whose_lease_was_taken_over_mid_attempt_stops_without_writing(store: SqliteStore) -> None:
    record_id = apply(store)
    one, two = Stepper(), Stepper()
    r1, r2 = replica(store, "r1", one), replica(store, "r2", two)
    assert r1._leased_attempt(KEY) == 1.0
    before = [e.message for e in store.events(record_id)]

    def paused_past_the_lease() -> None:  # r1 stops inside an attempt; r2 takes the key meanwhile
        time.sleep(0.4)
        assert r2._leased_attempt(KEY) == 1.0

    one.hook, one.converge = paused_past_the_lease, True
    assert r1._leased_attempt(KEY) is None  # r1 wakes up: its "done" is refused, and it drops the key
    assert KEY not in r1._held and KEY in r2._held
    record = store.get_record(record_id)
    assert record is not None and record.status == RecordStatus.IN_PROGRESS  # not r1's success
    after = [e.message for e in store.events(record_id)]
    assert after[: len(before)] == before
    assert (
        "Converged." not in after
        and after[-1] == "Replica r2 took over from replica r1, whose lease expired."
    )


class Planner(Stepper):
    """Counts the resync comparisons (plans) it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.converge, self.plans = True, 0

    def plan(self, ctx: Context) -> list[Change]:
        self.plans += 1
        return []


def test_a_periodic_resync_compares_an_object_once_per_period_whichever_replicas_run_it(
    store: SqliteStore,
) -> None:
    apply(store)
    one, two = Planner(), Planner()
    r1, r2 = replica(store, "r1", one), replica(store, "r2", two)
    assert r1._leased_attempt(KEY) is None  # the apply converges
    r1._resyncing.add(KEY)
    r2._resyncing.add(KEY)  # both replicas' resync loops queue the key in the same period
    assert r1._leased_attempt(KEY) is None and one.plans == 1
    assert r2._leased_attempt(KEY) is None and two.plans == 0  # compared moments ago by r1
    obj = store.get_object("Environment", None, "staging")
    assert obj is not None and obj.status["checked_at"]
    assert r2._leased_attempt(KEY) is None and two.plans == 1  # queued otherwise (start-up): compares
