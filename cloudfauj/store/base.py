"""The store interface: everything the API and the reactor persist, behind one small abstract class.

All progress lives here (ARCHITECTURE §4 crash safety): desired specs with their generations, statuses,
records and their event logs, the installation id, and the API tokens (hashed). Backends (SQLite now,
PostgreSQL for replicas) implement these methods with the same semantics; one contract test suite runs
against each.
Methods are synchronous; async callers run them in a thread so the event loop never blocks.

Several replicas share one store (PostgreSQL) through per-key **leases**: a replica reconciles a key only
while it holds the key's lease, and each lease carries a **fencing token** that grows whenever the key
changes hands. Inside `with store.fencing(lease):` every write concerning that key is checked against the
lease table in the write's own transaction and refused (`LeaseLost`) once a newer holder exists, so a
replica that was paused past its lease cannot overwrite what its successor wrote.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from cloudfauj.records import Cause, Event, Record, StoredObject
from cloudfauj.tokens import Role, Token

__all__ = ["Desired", "Lease", "Store", "Written"]


@dataclass(frozen=True)
class Desired:
    """One object of an apply batch, validated: what the user wants."""

    kind: str
    name: str
    env: str | None
    spec: dict[str, Any]
    image: str | None = None


@dataclass(frozen=True)
class Written:
    """What an apply did to one object: its stored form and the record it opened, if any."""

    obj: StoredObject
    record: Record | None
    changed: bool


@dataclass(frozen=True)
class Lease:
    """A replica's hold on one object key. `token` grows each time the key changes hands (the fencing
    token); `taken_from` names the replica whose unexpired-then-lapsed lease this one replaced, if any."""

    key: str
    holder: str
    token: int
    taken_from: str | None = None


# The lease the current attempt writes under (set by `Store.fencing`); a context variable, so it belongs
# to the thread (or task) running the attempt and never to the API's requests.
_FENCE: ContextVar[Lease | None] = ContextVar("cloudfauj_fence", default=None)


class Store(ABC):
    #: Whether a call is an operation on a local file of well under a millisecond, waiting on no network
    #: (only, at worst, on another writer's equally short transaction): then the API makes some on its
    #: event loop, cheaper than handing them to a thread.
    local = False

    @abstractmethod
    def installation_id(self) -> str:
        """The id of this installation, created on first use in one transaction."""

    # -- objects ---------------------------------------------------------------------------------
    @abstractmethod
    def get_object(self, kind: str, env: str | None, name: str) -> StoredObject | None: ...

    @abstractmethod
    def list_objects(
        self,
        kind: str | None = None,
        *,
        env: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[StoredObject]:
        """Objects ordered by (env, name); `after` is the previous page's last `env/name`."""

    @abstractmethod
    def object_names(self, kind: str) -> list[tuple[str | None, str]]:
        """The (env, name) of every object of `kind`: what name checks need, without the specs."""

    @abstractmethod
    def apply(
        self,
        batch: list[Desired],
        *,
        cause: Cause,
        initiator: str | None,
        source: str | None,
        deadline_seconds: float,
        force: bool = False,
    ) -> list[Written]:
        """Store a batch of desired specs in one transaction.

        A changed spec bumps the generation, supersedes the object's open record and opens a new one.
        An unchanged spec opens a record only when `force` is set or the object's last record failed
        (re-applying is how a user retries); otherwise nothing is written.
        """

    @abstractmethod
    def request_delete(
        self,
        kind: str,
        env: str | None,
        name: str,
        *,
        initiator: str | None,
        deadline_seconds: float,
        cascade: bool = False,
    ) -> Record:
        """Mark an object for deletion and open its deletion record (superseding any open one)."""

    @abstractmethod
    def remove_object(self, kind: str, env: str | None, name: str) -> None: ...

    @abstractmethod
    def set_status(self, kind: str, env: str | None, name: str, status: dict[str, Any]) -> None: ...

    # -- records ---------------------------------------------------------------------------------
    @abstractmethod
    def open_record(
        self,
        obj: StoredObject,
        *,
        cause: Cause,
        initiator: str | None,
        source: str | None,
        deadline_seconds: float,
    ) -> Record:
        """Open a record for the object's current generation (drift, rollback, redeploy)."""

    @abstractmethod
    def request_cancel(self, record_id: str, *, initiator: str | None) -> Record | None:
        """Ask for an open record's work to stop (the reactor ends it `cancelled`); None if no such id."""

    @abstractmethod
    def get_record(self, record_id: str) -> Record | None: ...

    @abstractmethod
    def current_record(self, kind: str, env: str | None, name: str) -> Record | None:
        """The object's newest record that is not terminal, if any."""

    @abstractmethod
    def last_record(self, kind: str, env: str | None, name: str) -> Record | None:
        """The object's newest record, whatever its status."""

    @abstractmethod
    def list_records(
        self,
        *,
        kind: str | None = None,
        env: str | None = None,
        name: str | None = None,
        status: str | None = None,
        before: str | None = None,
        limit: int = 50,
    ) -> list[Record]:
        """Newest first; `before` is the previous page's last id."""

    @abstractmethod
    def unfinished_records(self) -> list[Record]: ...

    @abstractmethod
    def save_record(self, record: Record) -> None:
        """Persist the record's status, timestamps, reason and progress."""

    @abstractmethod
    def append_event(self, record_id: str, type: str, message: str, **fields: str | None) -> Event: ...

    @abstractmethod
    def events(self, record_id: str, *, after: int = 0) -> list[Event]: ...

    def events_of(self, record_ids: list[str]) -> dict[str, list[Event]]:
        """The events of several records at once (a page of a list); backends may do it in one query."""
        return {r: self.events(r) for r in record_ids}

    # -- tokens (ARCHITECTURE §9) -------------------------------------------------------------
    @abstractmethod
    def create_token(self, name: str, role: Role, token_hash: str) -> Token:
        """Store a new token; `Conflict` when the name is taken (revoked tokens keep their names)."""

    @abstractmethod
    def create_first_admin(self, name: str, token_hash: str, *, publish: Callable[[], None]) -> Token | None:
        """In one transaction: unless the store has ever held an admin token, store this one and call
        `publish` (which hands the secret over) before committing; if `publish` raises, nothing is stored.
        None when an admin token existed already."""

    @abstractmethod
    def token_by_hash(self, token_hash: str) -> Token | None:
        """The token whose secret hashes to `token_hash`, revoked or not."""

    @abstractmethod
    def list_tokens(self, *, after: str | None = None, limit: int | None = None) -> list[Token]:
        """Tokens ordered by name; `after` is the previous page's last name."""

    @abstractmethod
    def revoke_token(self, name: str) -> Token:
        """Revoke a token from now on (again: no change). `NotFound` for an unknown name; `Conflict` for
        the last admin token not revoked, so that an installation always keeps someone to manage it."""

    # -- leases (several replicas on one store) ---------------------------------------------------
    @abstractmethod
    def claim_lease(self, key: str, holder: str, seconds: float) -> Lease | None:
        """Take `key`'s lease for `seconds` when it is free, expired or already `holder`'s (then it is only
        extended, same token); a change of hands bumps the token. None while another holder's is live."""

    @abstractmethod
    def renew_leases(self, keys: list[str], holder: str, seconds: float) -> list[str]:
        """Extend `holder`'s live leases on `keys`; the keys whose lease it no longer holds (expired, or
        taken over) are returned: work on them must stop."""

    @abstractmethod
    def release_lease(self, lease: Lease) -> None:
        """Let the lease go at once (it stays in the table, expired, so its token keeps growing)."""

    @abstractmethod
    def orphaned_keys(self) -> list[str]:
        """Keys with an unfinished record and no live lease: work a dead replica left, or nobody took yet."""

    def watch(self, on_key: Callable[[str], None]) -> None:  # noqa: B027 - one process: nothing to hear
        """Call `on_key` (from any thread) for each key another replica changed; a single-process store
        needs nothing, the API queues its own changes."""

    @contextmanager
    def fencing(self, lease: Lease) -> Iterator[None]:
        """Inside the block, this thread's writes about `lease.key` are refused once a newer holder exists."""
        token = _FENCE.set(lease)
        try:
            yield
        finally:
            _FENCE.reset(token)

    @staticmethod
    def current_fence() -> Lease | None:
        return _FENCE.get()

    def close(self) -> None:  # noqa: B027 - optional hook: backends without resources need nothing
        """Release connections."""
