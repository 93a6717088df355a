"""The store contract: every backend must behave exactly like this (ARCHITECTURE §7). Each test runs on
SQLite and on PostgreSQL (a fresh database on the server `CLOUDFAUJ_TEST_POSTGRES` names)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import pytest

from cloudfauj.errors import Conflict, NotFound
from cloudfauj.metrics import DEPLOYMENTS
from cloudfauj.records import Cause, RecordStatus, utcnow
from cloudfauj.store import Desired, SqliteStore, Store
from cloudfauj.tokens import Role
from tests.postgres import fresh_database

ENV = Desired(kind="Environment", name="staging", env=None, spec={"network": "aws"})


def app(image: str = "repo:v1", name: str = "web") -> Desired:
    return Desired(kind="Application", name=name, env="staging", spec={"image": image}, image=image)


Opener = Callable[[], Store]


@pytest.fixture(params=["sqlite", "postgresql"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the test's store (again): the same file, or the same database."""
    with ExitStack() as stack:
        if request.param == "sqlite":
            path = tmp_path / "cloudfauj.db"

            def open_store() -> Store:
                return stack.enter_context(closing(SqliteStore(path)))
        else:
            from cloudfauj.store.postgres import PostgresStore

            url = stack.enter_context(fresh_database())

            def open_store() -> Store:
                return stack.enter_context(closing(PostgresStore(url, max_connections=8)))

        yield open_store


@pytest.fixture
def store(reopen: Opener) -> Store:
    return reopen()


def apply(store: Store, *items: Desired, force: bool = False):
    return store.apply(
        list(items), cause=Cause.APPLY, initiator="tester", source="sha", deadline_seconds=60, force=force
    )


def test_the_installation_id_is_created_once_and_kept(store: Store, reopen: Opener) -> None:
    first = store.installation_id()
    assert first == store.installation_id()
    assert reopen().installation_id() == first


def test_a_first_apply_stores_generation_one_and_opens_a_pending_record(store: Store) -> None:
    (w,) = apply(store, ENV)
    assert w.changed and w.obj.generation == 1
    assert w.record is not None and w.record.status == RecordStatus.PENDING
    assert (w.record.initiator, w.record.source, w.record.cause) == ("tester", "sha", Cause.APPLY)
    assert w.record.created_at.endswith("Z") and len(w.record.created_at) == 27


def test_reapplying_an_unchanged_spec_writes_nothing(store: Store) -> None:
    apply(store, ENV)
    (w,) = apply(store, ENV)
    assert not w.changed and w.record is None and w.obj.generation == 1
    assert len(store.list_records()) == 1


def test_a_changed_spec_bumps_the_generation_and_supersedes_the_open_record(store: Store) -> None:
    superseded = DEPLOYMENTS.labels(status="superseded")
    before = superseded._value.get()
    apply(store, ENV)
    (first,) = apply(store, app("repo:v1"))
    (second,) = apply(store, app("repo:v2"))
    assert second.obj.generation == 2 and second.record is not None
    old = store.get_record(first.record.id)  # type: ignore[union-attr]
    assert (
        old is not None and old.status == RecordStatus.SUPERSEDED and second.record.id in (old.reason or "")
    )
    assert store.current_record("Application", "staging", "web") == second.record
    assert superseded._value.get() == before + 1  # cloudfauj_deployments_total{status="superseded"}


def test_reapplying_after_a_failure_opens_a_new_record_for_a_retry(store: Store) -> None:
    (w,) = apply(store, ENV)
    assert w.record is not None
    store.save_record(w.record.start(now=utcnow()).finish(RecordStatus.FAILED, "boom", now=utcnow()))
    (again,) = apply(store, ENV)
    assert again.changed and again.record is not None and again.obj.generation == 1


def test_force_opens_a_redeploy_record_for_an_unchanged_spec(store: Store) -> None:
    apply(store, ENV)
    (w,) = apply(store, ENV, force=True)
    assert w.record is not None and w.record.cause == Cause.REDEPLOY


def test_a_terminal_record_is_never_overwritten(store: Store) -> None:
    (w,) = apply(store, ENV)
    record = w.record
    assert record is not None
    done = record.finish(RecordStatus.SUCCEEDED, None, now=utcnow())
    store.save_record(done)
    store.save_record(record.finish(RecordStatus.FAILED, "late writer", now=utcnow()))
    assert store.get_record(record.id).status == RecordStatus.SUCCEEDED  # type: ignore[union-attr]


def test_events_are_numbered_in_order_per_record(store: Store) -> None:
    (w,) = apply(store, ENV)
    rid = w.record.id  # type: ignore[union-attr]
    store.append_event(rid, "info", "one")
    store.append_event(rid, "aws", "two", action="ec2:CreateVpc", resource="vpc", request_id="r-1")
    events = store.events(rid)
    assert [(e.seq, e.message) for e in events] == [(1, "one"), (2, "two")]
    assert events[1].request_id == "r-1"
    assert [e.seq for e in store.events(rid, after=1)] == [2]


def test_records_list_newest_first_with_filters_and_pages(store: Store) -> None:
    apply(store, ENV)
    apply(store, app(name="web"))
    apply(store, app(name="api"))
    ids = [r.id for r in store.list_records()]
    assert ids == sorted(ids, key=int, reverse=True)
    assert [r.name for r in store.list_records(kind="Application", limit=1)] == ["api"]
    assert [r.name for r in store.list_records(kind="Application", before=ids[0])] == ["web"]
    assert {r.name for r in store.list_records(env="staging")} == {"staging", "web", "api"}


def test_delete_marks_the_object_and_opens_a_delete_record(store: Store) -> None:
    apply(store, ENV)
    record = store.request_delete("Environment", None, "staging", initiator=None, deadline_seconds=60)
    assert record.cause == Cause.DELETE
    assert store.get_object("Environment", None, "staging").deleting  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        store.request_delete("Environment", None, "nope", initiator=None, deadline_seconds=60)
    store.remove_object("Environment", None, "staging")
    assert store.get_object("Environment", None, "staging") is None


def test_objects_page_by_env_and_name(store: Store) -> None:
    apply(store, ENV, app(name="b"), app(name="a"), app(name="c"))
    first = store.list_objects("Application", env="staging", limit=2)
    assert [o.name for o in first] == ["a", "b"]
    rest = store.list_objects("Application", env="staging", after="staging/b")
    assert [o.name for o in rest] == ["c"]


def test_unfinished_records_are_those_not_terminal(store: Store) -> None:
    apply(store, ENV)
    apply(store, app("repo:v1"))
    apply(store, app("repo:v2"))
    assert [(r.name, r.generation) for r in store.unfinished_records()] == [("staging", 1), ("web", 2)]


def test_a_cancel_request_is_kept_on_an_open_record_only(store: Store) -> None:
    (w,) = apply(store, ENV)
    assert w.record is not None
    marked = store.request_cancel(w.record.id, initiator="alice")
    assert marked is not None and marked.cancel_requested == "alice"
    store.save_record(marked.finish(RecordStatus.CANCELLED, "Cancelled by alice.", now=utcnow()))
    (again,) = apply(store, ENV)  # a cancelled generation is retried by applying it again
    assert again.record is not None and again.record.cancel_requested is None
    store.save_record(again.record.finish(RecordStatus.SUCCEEDED, None, now=utcnow()))
    ended = store.request_cancel(again.record.id, initiator="bob")
    assert ended is not None and ended.cancel_requested is None
    assert store.request_cancel("424242", initiator=None) is None


# -- tokens -----------------------------------------------------------------------------------------------
def test_a_token_is_stored_by_name_and_found_by_its_hash_only(store: Store) -> None:
    token = store.create_token("ci", Role.DEPLOYER, "h-ci")
    assert (token.name, token.role, token.revoked_at) == ("ci", Role.DEPLOYER, None)
    assert token.created_at.endswith("Z")
    assert store.token_by_hash("h-ci") == token
    assert store.token_by_hash("h-other") is None
    with pytest.raises(Conflict, match="'ci' exists already"):
        store.create_token("ci", Role.VIEWER, "h-ci-2")


def test_tokens_list_by_name_in_pages(store: Store) -> None:
    for name in ("c", "a", "b"):
        store.create_token(name, Role.VIEWER, f"h-{name}")
    assert [t.name for t in store.list_tokens()] == ["a", "b", "c"]
    assert [t.name for t in store.list_tokens(limit=2)] == ["a", "b"]
    assert [t.name for t in store.list_tokens(after="b")] == ["c"]


def test_the_first_admin_is_created_once_and_only_after_it_was_published(store: Store) -> None:
    def fail() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        store.create_first_admin("admin", "h-1", publish=fail)
    assert store.list_tokens() == []  # not handed over: not stored either
    published: list[str] = []
    first = store.create_first_admin("admin", "h-2", publish=lambda: published.append("h-2"))
    assert first is not None and first.role == Role.ADMIN and published == ["h-2"]
    again = store.create_first_admin("admin-2", "h-3", publish=lambda: published.append("h-3"))
    assert again is None and published == ["h-2"]
    assert [t.name for t in store.list_tokens()] == ["admin"]


def test_a_revoked_token_keeps_its_row_and_name(store: Store) -> None:
    store.create_token("ci", Role.DEPLOYER, "h-ci")
    revoked = store.revoke_token("ci")
    assert revoked.revoked_at is not None
    assert store.token_by_hash("h-ci") == revoked
    assert store.revoke_token("ci") == revoked  # again: no change
    with pytest.raises(Conflict):
        store.create_token("ci", Role.DEPLOYER, "h-ci-2")
    with pytest.raises(NotFound):
        store.revoke_token("nobody")


def test_the_last_admin_token_cannot_be_revoked(store: Store) -> None:
    store.create_first_admin("admin", "h-admin", publish=lambda: None)
    with pytest.raises(Conflict, match="last admin token"):
        store.revoke_token("admin")
    store.create_token("alice", Role.ADMIN, "h-alice")
    assert store.revoke_token("admin").revoked_at is not None
    with pytest.raises(Conflict):
        store.revoke_token("alice")


def test_tokens_survive_a_reopen(store: Store, reopen: Opener) -> None:
    store.create_token("ci", Role.VIEWER, "h-ci")
    assert reopen().token_by_hash("h-ci") is not None


# -- leases and fencing (several replicas on one store) -------------------------------------------------
KEY = "Application/staging/web"


def test_a_lease_is_held_by_one_replica_until_it_lets_go(store: Store) -> None:
    first = store.claim_lease(KEY, "r1", 30)
    assert first is not None and (first.holder, first.token, first.taken_from) == ("r1", 1, None)
    assert store.claim_lease(KEY, "r2", 30) is None
    assert store.claim_lease(KEY, "r1", 30) == first  # renewed by its holder: same token
    store.release_lease(first)
    second = store.claim_lease(KEY, "r2", 30)
    assert second is not None and (second.token, second.taken_from) == (2, None)


def test_an_expired_lease_changes_hands_with_a_greater_token(store: Store) -> None:
    first = store.claim_lease(KEY, "r1", 0.2)
    assert first is not None
    wait_until_past(0.3)
    second = store.claim_lease(KEY, "r2", 30)
    assert second is not None and (second.token, second.taken_from) == (first.token + 1, "r1")
    assert store.renew_leases([KEY], "r1", 30) == [KEY]  # r1 learns it lost the key
    assert store.renew_leases([KEY], "r2", 30) == []


def test_a_write_under_a_lease_taken_over_is_refused(store: Store) -> None:
    from cloudfauj.errors import LeaseLost

    apply(store, ENV)
    (w,) = apply(store, app())
    assert w.record is not None
    stale = store.claim_lease(KEY, "r1", 0.2)
    assert stale is not None
    with store.fencing(stale):  # while it holds the lease, its writes go through
        store.append_event(w.record.id, "info", "r1 was here")
    wait_until_past(0.3)
    fresh = store.claim_lease(KEY, "r2", 30)
    assert fresh is not None
    started = w.record.start(now=utcnow())
    with store.fencing(stale):
        for write in (
            lambda: store.save_record(started),
            lambda: store.append_event(started.id, "info", "r1 again"),
            lambda: store.set_status("Application", "staging", "web", {"phase": "ready"}),
            lambda: store.remove_object("Application", "staging", "web"),
        ):
            with pytest.raises(LeaseLost, match="r2 took it over"):
                write()
        store.set_status("Environment", None, "staging", {"phase": "ready"})  # another key: not fenced
    assert store.get_record(started.id).status == RecordStatus.PENDING  # type: ignore[union-attr]
    assert [e.message for e in store.events(started.id)] == ["r1 was here"]
    with store.fencing(fresh):
        store.save_record(started)
        store.append_event(started.id, "info", "r2 carries on")
    assert store.get_record(started.id).status == RecordStatus.IN_PROGRESS  # type: ignore[union-attr]


def test_keys_with_unfinished_records_and_no_live_lease_are_orphaned(store: Store) -> None:
    (env,) = apply(store, ENV)
    apply(store, app())
    assert store.orphaned_keys() == [KEY, "Environment/staging"]
    held = store.claim_lease(KEY, "r1", 30)
    assert held is not None and store.orphaned_keys() == ["Environment/staging"]
    store.save_record(env.record.finish(RecordStatus.SUCCEEDED, None, now=utcnow()))  # type: ignore[union-attr]
    assert store.orphaned_keys() == []
    store.release_lease(held)
    assert store.orphaned_keys() == [KEY]


def test_replicas_claiming_one_key_at_once_get_it_once(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(lambda i: store.claim_lease(KEY, f"r{i}", 30), range(6)))
    assert len([lease for lease in got if lease is not None]) == 1


def wait_until_past(seconds: float) -> None:
    import time

    time.sleep(seconds)


def test_replicas_starting_together_make_one_installation_id_and_one_admin_token(reopen: Opener) -> None:
    from concurrent.futures import ThreadPoolExecutor

    stores = [reopen() for _ in range(4)]  # one store each, as replicas have: separate connections

    def first_start(i: int) -> tuple[str, bool]:
        made = stores[i].create_first_admin(f"admin-{i}", f"h-{i}", publish=lambda: None)
        return stores[i].installation_id(), made is not None

    with ThreadPoolExecutor(len(stores)) as pool:
        results = list(pool.map(first_start, range(len(stores))))
    assert len({installation for installation, _ in results}) == 1
    assert [made for _, made in results].count(True) == 1
    assert len(stores[0].list_tokens()) == 1


def test_an_apply_finds_the_records_it_supersedes_among_open_records_only(tmp_path: Path) -> None:
    """The index of open records (migration 6) is the one the supersede query uses: its condition must
    stay the query's, or an apply goes back to reading the object's whole history."""
    with closing(SqliteStore(tmp_path / "cloudfauj.db")) as s:
        apply(s, ENV, app("repo:v1"))
        statements: list[str] = []
        s._db.set_trace_callback(statements.append)  # the statements as run, values bound
        apply(s, app("repo:v2"))
        s._db.set_trace_callback(None)
        (supersede,) = [q for q in statements if "superseded" in q and q.lstrip().startswith("UPDATE")]
        plan = s._query(f"EXPLAIN QUERY PLAN {supersede}")
        assert "USING INDEX records_open" in " ".join(str(row["detail"]) for row in plan), plan


@pytest.mark.parametrize("every", [0.01, 3600])
def test_sqlite_commits_never_checkpoint_the_store_thread_does(tmp_path: Path, every: float) -> None:
    """A commit that copies the WAL back into the database file waits for the disk; the store's own thread
    does that copy instead (seen in the database file's size: the WAL holds what is not copied yet)."""
    path = tmp_path / "cloudfauj.db"
    with closing(SqliteStore(path, checkpoint_seconds=every)) as s:
        apply(s, ENV)
        for i in range(300):  # about 12 MB of WAL, far past SQLite's own threshold of 1,000 pages
            apply(s, Desired("Application", "web", "staging", {"image": f"r:{i}", "pad": "x" * 2000}))
        deadline = time.monotonic() + 10
        while every < 1 and path.stat().st_size < 500_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        copied = path.stat().st_size
    if every < 1:
        assert copied > 500_000, "the store's thread copies the WAL back"
    else:
        assert copied < 100_000, "no commit copied the WAL back by itself"
