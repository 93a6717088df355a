"""The SQL both backends share: every store operation, written once, in the SQL SQLite and PostgreSQL
both speak (`?` parameters; the PostgreSQL backend translates them and the migrations' types).

A backend supplies a connection per transaction (`_tx`, which serialises writers, as SQLite's
`BEGIN IMMEDIATE` does), reads outside transactions (`_query`), the SQL of "now" in epoch seconds, the row
locks of the lease protocol, and how a change is announced to other replicas (`_notify`).

Leases (see `cloudfauj.store.base`): one row per key in `leases`, never deleted, so a key's fencing token
only grows. A write under a fence reads the key's lease row in its own transaction (`_FOR_SHARE`: a
concurrent claim cannot change hands until the write commits) and is refused if the token moved on.
"""

from __future__ import annotations

import json
import logging
import uuid
from abc import abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import timedelta
from typing import Any, Protocol

from prometheus_client import Counter

from cloudfauj.aws.accounting import REGISTRY
from cloudfauj.errors import Conflict, LeaseLost, NotFound
from cloudfauj.metrics import count_deployment
from cloudfauj.records import (
    TERMINAL,
    Cause,
    Event,
    Record,
    RecordStatus,
    StoredObject,
    format_time,
    object_key,
    parse_key,
    utcnow,
)
from cloudfauj.store.base import Desired, Lease, Store, Written
from cloudfauj.store.migrations import MIGRATIONS
from cloudfauj.tokens import Role, Token

__all__ = ["Connection", "SqlStore"]

log = logging.getLogger("cloudfauj.store")
REFUSED_WRITES = Counter(
    "cloudfauj_lease_refused_writes",
    "Writes refused because another replica had taken over the key's lease (fencing).",
    registry=REGISTRY,
)
Row = Any  # sqlite3.Row or a psycopg dict row: both are read as row["column"] and dict(row)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Row: ...

    def fetchall(self) -> list[Row]: ...


class Connection(Protocol):
    def execute(self, sql: str, args: Sequence[Any] = ..., /) -> Cursor: ...


_OPEN = tuple(str(s) for s in RecordStatus if s not in TERMINAL)
_RECORD_COLUMNS = (
    "id, kind, env, name, generation, status, cause, created_at, deadline, spec, initiator, source, "
    "reason, started_at, finished_at, image, image_digest, progress, cancel_requested"
)


_MAX_ROW_ID = 2**63 - 1  # SQLite's INTEGER; a larger Python int cannot even be bound as a parameter


def _row_id(text: str) -> int | None:
    """A record id as its row id; None for text that cannot be one. ASCII digits only: `str.isdigit`
    also accepts '²' and other digits `int()` refuses."""
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text)


class SqlStore(Store):
    _NOW: str  # SQL for the database's clock, in epoch seconds (one clock for every replica)
    _CLAIM_LOCK = ""  # appended to the lease row's SELECT in a claim (PostgreSQL: FOR UPDATE SKIP LOCKED)
    _FOR_SHARE = ""  # appended to the lease row's SELECT in a fenced write (PostgreSQL: FOR SHARE)

    # -- plumbing --------------------------------------------------------------------------------
    @abstractmethod
    def _tx(self) -> AbstractContextManager[Connection]:
        """A write transaction; writers are serialised."""

    @abstractmethod
    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[Row]: ...

    def _ddl(self, statement: str) -> str:
        """A migration statement in this backend's dialect."""
        return statement

    def _notify(self, db: Connection, key: str) -> None:  # noqa: B027 - one process: nobody to tell
        """Tell the other replicas that `key` has new work, once `db`'s transaction commits."""

    def _migrate(self) -> None:
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            current = row["version"] if row else 0
            for version, statements in enumerate(MIGRATIONS, start=1):
                if version > current:
                    for statement in statements:
                        db.execute(self._ddl(statement))
            if row is None:
                db.execute("INSERT INTO schema_version VALUES (?)", (len(MIGRATIONS),))
            else:
                db.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))

    def _fenced(self, db: Connection, kind: str, env: str | None, name: str) -> None:
        """Refuse this write when it runs under a lease on this key that another replica took over since."""
        fence = self.current_fence()
        if fence is None or fence.key != object_key(kind, env, name):
            return
        row = db.execute(
            f"SELECT holder, token FROM leases WHERE kind = ? AND env = ? AND name = ?{self._FOR_SHARE}",
            (kind, env or "", name),
        ).fetchone()
        if row is not None and int(row["token"]) > fence.token:
            REFUSED_WRITES.inc()
            log.warning(
                "write refused: the lease on %s (token %d) was taken over by replica %s (token %d)",
                fence.key,
                fence.token,
                row["holder"],
                row["token"],
            )
            raise LeaseLost(
                f"Replica {fence.holder} no longer holds the lease on {fence.key}: replica {row['holder']} "
                f"took it over (fencing token {row['token']} > {fence.token}); this write was refused."
            )

    def _fenced_record(self, db: Connection, record_id: int) -> None:
        if self.current_fence() is None:
            return
        row = db.execute("SELECT kind, env, name FROM records WHERE id = ?", (record_id,)).fetchone()
        if row is not None:
            self._fenced(db, row["kind"], row["env"] or None, row["name"])

    # -- installation ----------------------------------------------------------------------------
    def installation_id(self) -> str:
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'installation_id'").fetchone()
            if row:
                return str(row["value"])
            new = uuid.uuid4().hex[:12]
            db.execute("INSERT INTO meta (key, value) VALUES ('installation_id', ?)", (new,))
            return new

    # -- objects ---------------------------------------------------------------------------------
    def get_object(self, kind: str, env: str | None, name: str) -> StoredObject | None:
        rows = self._query(
            "SELECT * FROM objects WHERE kind = ? AND env = ? AND name = ?", (kind, env or "", name)
        )
        return _object(rows[0]) if rows else None

    def list_objects(
        self,
        kind: str | None = None,
        *,
        env: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[StoredObject]:
        sql, args = "SELECT * FROM objects WHERE 1=1", []
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        if env:
            sql += " AND env = ?"
            args.append(env)
        if after:
            sql += " AND (env || '/' || name) > ?"
            args.append(after)
        sql += " ORDER BY env || '/' || name"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_object(r) for r in self._query(sql, tuple(args))]

    def object_names(self, kind: str) -> list[tuple[str | None, str]]:
        rows = self._query("SELECT env, name FROM objects WHERE kind = ?", (kind,))
        return [(r["env"] or None, r["name"]) for r in rows]

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
        out: list[Written] = []
        with self._tx() as db:
            for item in batch:
                out.append(self._apply_one(db, item, cause, initiator, source, deadline_seconds, force))
        return out

    def _apply_one(
        self,
        db: Connection,
        item: Desired,
        cause: Cause,
        initiator: str | None,
        source: str | None,
        deadline_seconds: float,
        force: bool,
    ) -> Written:
        now = format_time(utcnow())
        key = (item.kind, item.env or "", item.name)
        row = db.execute("SELECT * FROM objects WHERE kind = ? AND env = ? AND name = ?", key).fetchone()
        spec = json.dumps(item.spec, sort_keys=True)
        if row is None:
            db.execute(
                "INSERT INTO objects (kind, env, name, spec, generation, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                (*key, spec, json.dumps({"phase": "pending", "observed_generation": 0}), now, now),
            )
        else:
            unchanged = row["spec"] == spec and not row["deleting"]
            if unchanged and not force and not self._last_failed(db, key):
                return Written(_object(row), None, changed=False)
            if not unchanged:
                db.execute(
                    "UPDATE objects SET spec = ?, generation = generation + 1, deleting = 0, "
                    "cascade_delete = 0, "
                    "updated_at = ? WHERE kind = ? AND env = ? AND name = ?",
                    (spec, now, *key),
                )
            elif force and cause == Cause.APPLY:
                cause = Cause.REDEPLOY
        obj = _object(
            db.execute("SELECT * FROM objects WHERE kind = ? AND env = ? AND name = ?", key).fetchone()
        )
        record = self._open(db, obj, cause, initiator, source, deadline_seconds, image=item.image)
        return Written(obj, record, changed=True)

    @staticmethod
    def _last_failed(db: Connection, key: tuple[str, str, str]) -> bool:
        row = db.execute(
            "SELECT status FROM records WHERE kind = ? AND env = ? AND name = ? ORDER BY id DESC LIMIT 1", key
        ).fetchone()
        return bool(row) and row["status"] in (RecordStatus.FAILED, RecordStatus.CANCELLED)

    def _open(
        self,
        db: Connection,
        obj: StoredObject,
        cause: Cause,
        initiator: str | None,
        source: str | None,
        deadline_seconds: float,
        image: str | None = None,
    ) -> Record:
        now = utcnow()
        image = image or obj.spec.get("image")
        self._fenced(db, obj.kind, obj.env, obj.name)
        cur = db.execute(
            "INSERT INTO records (kind, env, name, generation, status, cause, created_at, deadline, spec, "
            "initiator, source, image, image_digest, progress) "
            "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, '{}') RETURNING id",
            (
                obj.kind,
                obj.env or "",
                obj.name,
                obj.generation,
                str(cause),
                format_time(now),
                format_time(now + timedelta(seconds=deadline_seconds)),
                json.dumps(obj.spec),
                initiator,
                source,
                image,
                obj.spec.get("image_digest"),
            ),
        )
        new_id = str(cur.fetchone()["id"])
        superseded = db.execute(
            f"UPDATE records SET status = 'superseded', finished_at = ?, reason = ? "
            f"WHERE kind = ? AND env = ? AND name = ? AND id <> ? AND status IN {_OPEN}",
            (
                format_time(now),
                f"superseded by record {new_id} (generation {obj.generation})",
                obj.kind,
                obj.env or "",
                obj.name,
                int(new_id),
            ),
        )
        count_deployment(obj.kind, "superseded", superseded.rowcount)
        row = db.execute(f"SELECT {_RECORD_COLUMNS} FROM records WHERE id = ?", (int(new_id),)).fetchone()
        self._notify(db, obj.key)
        return _record(row)

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
        key = (kind, env or "", name)
        with self._tx() as db:
            cur = db.execute(
                "UPDATE objects SET deleting = 1, cascade_delete = ?, updated_at = ? "
                "WHERE kind = ? AND env = ? AND name = ?",
                (int(cascade), format_time(utcnow()), *key),
            )
            if cur.rowcount == 0:
                raise NotFound(f"{kind} '{name}' does not exist.")
            row = db.execute("SELECT * FROM objects WHERE kind = ? AND env = ? AND name = ?", key).fetchone()
            return self._open(db, _object(row), Cause.DELETE, initiator, None, deadline_seconds)

    def remove_object(self, kind: str, env: str | None, name: str) -> None:
        with self._tx() as db:
            self._fenced(db, kind, env, name)
            db.execute("DELETE FROM objects WHERE kind = ? AND env = ? AND name = ?", (kind, env or "", name))

    def set_status(self, kind: str, env: str | None, name: str, status: dict[str, Any]) -> None:
        with self._tx() as db:
            self._fenced(db, kind, env, name)
            db.execute(
                "UPDATE objects SET status = ? WHERE kind = ? AND env = ? AND name = ?",
                (json.dumps(status), kind, env or "", name),
            )

    # -- records ---------------------------------------------------------------------------------
    def open_record(
        self,
        obj: StoredObject,
        *,
        cause: Cause,
        initiator: str | None,
        source: str | None,
        deadline_seconds: float,
    ) -> Record:
        with self._tx() as db:
            return self._open(db, obj, cause, initiator, source, deadline_seconds)

    def request_cancel(self, record_id: str, *, initiator: str | None) -> Record | None:
        with self._tx() as db:
            db.execute(
                f"UPDATE records SET cancel_requested = ? WHERE id = ? AND status IN {_OPEN}",
                (initiator or "anonymous", int(record_id)),
            )
            row = db.execute(
                f"SELECT {_RECORD_COLUMNS} FROM records WHERE id = ?", (int(record_id),)
            ).fetchone()
            if row is None:
                return None
            self._notify(db, object_key(row["kind"], row["env"] or None, row["name"]))
            return _record(row)

    def get_record(self, record_id: str) -> Record | None:
        row_id = _row_id(record_id)
        if row_id is None:
            return None
        rows = self._query(f"SELECT {_RECORD_COLUMNS} FROM records WHERE id = ?", (row_id,))
        return _record(rows[0]) if rows else None

    def current_record(self, kind: str, env: str | None, name: str) -> Record | None:
        rows = self._query(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE kind = ? AND env = ? AND name = ? "
            f"AND status IN {_OPEN} ORDER BY id DESC LIMIT 1",
            (kind, env or "", name),
        )
        return _record(rows[0]) if rows else None

    def last_record(self, kind: str, env: str | None, name: str) -> Record | None:
        rows = self._query(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE kind = ? AND env = ? AND name = ? "
            "ORDER BY id DESC LIMIT 1",
            (kind, env or "", name),
        )
        return _record(rows[0]) if rows else None

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
        sql = f"SELECT {_RECORD_COLUMNS} FROM records WHERE 1=1"
        args: list[str | int] = []
        for column, value in (("kind", kind), ("name", name), ("status", status)):
            if value:
                sql += f" AND {column} = ?"
                args.append(value)
        if env:
            # An environment's own records are keyed by name; its apps' by env.
            sql += " AND (env = ? OR (kind = 'Environment' AND name = ?))"
            args += [env, env]
        before_id = _row_id(before or "")
        if before_id is not None:
            sql += " AND id < ?"
            args.append(before_id)
        sql += f" ORDER BY id DESC LIMIT {int(limit)}"
        return [_record(r) for r in self._query(sql, tuple(args))]

    def unfinished_records(self) -> list[Record]:
        rows = self._query(f"SELECT {_RECORD_COLUMNS} FROM records WHERE status IN {_OPEN} ORDER BY id")
        return [_record(r) for r in rows]

    def save_record(self, record: Record) -> None:
        with self._tx() as db:
            self._fenced(db, record.kind, record.env, record.name)
            db.execute(
                "UPDATE records SET status = ?, reason = ?, started_at = ?, finished_at = ?, progress = ?, "
                f"image_digest = ? WHERE id = ? AND status IN {_OPEN}",
                (
                    str(record.status),
                    record.reason,
                    record.started_at,
                    record.finished_at,
                    json.dumps(record.progress),
                    record.image_digest,
                    int(record.id),
                ),
            )

    def append_event(self, record_id: str, type: str, message: str, **fields: str | None) -> Event:
        with self._tx() as db:
            self._fenced_record(db, int(record_id))
            row = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM events WHERE record_id = ?", (int(record_id),)
            ).fetchone()
            event = Event(
                seq=row["seq"],
                at=format_time(utcnow()) or "",
                type=type,
                message=message,
                action=fields.get("action"),
                resource=fields.get("resource"),
                request_id=fields.get("request_id"),
            )
            db.execute(
                "INSERT INTO events (record_id, seq, at, type, message, action, resource, request_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    int(record_id),
                    event.seq,
                    event.at,
                    event.type,
                    event.message,
                    event.action,
                    event.resource,
                    event.request_id,
                ),
            )
            return event

    def events(self, record_id: str, *, after: int = 0) -> list[Event]:
        row_id = _row_id(record_id)
        if row_id is None:
            return []
        rows = self._query(
            "SELECT seq, at, type, message, action, resource, request_id FROM events "
            "WHERE record_id = ? AND seq > ? ORDER BY seq",
            (row_id, min(after, _MAX_ROW_ID)),
        )
        return [Event(**dict(r)) for r in rows]

    def events_of(self, record_ids: list[str]) -> dict[str, list[Event]]:
        ids = [i for i in (_row_id(r) for r in record_ids) if i is not None]
        out: dict[str, list[Event]] = {str(i): [] for i in ids}
        if ids:
            rows = self._query(
                "SELECT record_id, seq, at, type, message, action, resource, request_id FROM events "
                f"WHERE record_id IN ({', '.join('?' * len(ids))}) ORDER BY record_id, seq",
                tuple(ids),
            )
            for r in rows:
                fields = dict(r)
                out[str(fields.pop("record_id"))].append(Event(**fields))
        return out

    # -- leases ----------------------------------------------------------------------------------
    def _lease_tx(self) -> AbstractContextManager[Connection]:
        """The transaction of a lease operation (PostgreSQL: not serialised with writers; row locks do)."""
        return self._tx()

    def claim_lease(self, key: str, holder: str, seconds: float) -> Lease | None:
        kind, env, name = parse_key(key)
        where = (kind, env or "", name)
        with self._lease_tx() as db:
            row = db.execute(
                f"SELECT holder, token, expires_at, {self._NOW} AS now FROM leases "
                f"WHERE kind = ? AND env = ? AND name = ?{self._CLAIM_LOCK}",
                where,
            ).fetchone()
            if row is None:  # never leased, or its row is locked by another replica's claim or write
                got = db.execute(
                    "INSERT INTO leases (kind, env, name, holder, token, expires_at) "
                    f"VALUES (?, ?, ?, ?, 1, {self._NOW} + ?) ON CONFLICT (kind, env, name) DO NOTHING "
                    "RETURNING token",
                    (*where, holder, seconds),
                ).fetchone()
                return Lease(key, holder, int(got["token"])) if got else None
            live = row["expires_at"] > row["now"]
            if live and row["holder"] != holder:
                return None
            token = int(row["token"]) if live else int(row["token"]) + 1  # a change of hands: fence
            # expires_at 0 is a lease let go (`release_lease`); anything else that lapsed was cut short
            lapsed = not live and row["expires_at"] > 0 and row["holder"] != holder
            db.execute(
                f"UPDATE leases SET holder = ?, token = ?, expires_at = {self._NOW} + ? "
                "WHERE kind = ? AND env = ? AND name = ?",
                (holder, token, seconds, *where),
            )
            return Lease(key, holder, token, taken_from=row["holder"] if lapsed else None)

    def renew_leases(self, keys: list[str], holder: str, seconds: float) -> list[str]:
        lost: list[str] = []
        with self._lease_tx() as db:
            for key in keys:
                kind, env, name = parse_key(key)
                cur = db.execute(
                    f"UPDATE leases SET expires_at = {self._NOW} + ? WHERE kind = ? AND env = ? AND name = ? "
                    f"AND holder = ? AND expires_at > {self._NOW}",
                    (seconds, kind, env or "", name, holder),
                )
                if cur.rowcount == 0:
                    lost.append(key)
        return lost

    def release_lease(self, lease: Lease) -> None:
        kind, env, name = parse_key(lease.key)
        with self._lease_tx() as db:
            db.execute(
                "UPDATE leases SET expires_at = 0 WHERE kind = ? AND env = ? AND name = ? "
                "AND holder = ? AND token = ?",
                (kind, env or "", name, lease.holder, lease.token),
            )

    def orphaned_keys(self) -> list[str]:
        rows = self._query(
            "SELECT DISTINCT r.kind, r.env, r.name FROM records r LEFT JOIN leases l "
            "ON l.kind = r.kind AND l.env = r.env AND l.name = r.name "
            f"WHERE r.status IN {_OPEN} AND (l.token IS NULL OR l.expires_at <= {self._NOW})"
        )
        return sorted(object_key(r["kind"], r["env"] or None, r["name"]) for r in rows)

    # -- tokens ----------------------------------------------------------------------------------
    def create_token(self, name: str, role: Role, token_hash: str) -> Token:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM tokens WHERE name = ?", (name,)).fetchone():
                raise Conflict(
                    f"A token named '{name}' exists already (a revoked token keeps its name); "
                    "choose another name."
                )
            return self._insert_token(db, name, role, token_hash)

    def create_first_admin(self, name: str, token_hash: str, *, publish: Callable[[], None]) -> Token | None:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM tokens WHERE role = ?", (str(Role.ADMIN),)).fetchone():
                return None
            token = self._insert_token(db, name, Role.ADMIN, token_hash)
            publish()  # inside the transaction: a failure here rolls the token back
            return token

    @staticmethod
    def _insert_token(db: Connection, name: str, role: Role, token_hash: str) -> Token:
        token = Token(name, Role(role), token_hash, created_at=format_time(utcnow()))
        db.execute(
            "INSERT INTO tokens (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)",
            (token.name, str(token.role), token.token_hash, token.created_at),
        )
        return token

    def token_by_hash(self, token_hash: str) -> Token | None:
        rows = self._query("SELECT * FROM tokens WHERE token_hash = ?", (token_hash,))
        return _token(rows[0]) if rows else None

    def list_tokens(self, *, after: str | None = None, limit: int | None = None) -> list[Token]:
        sql, args = "SELECT * FROM tokens WHERE name > ? ORDER BY name", (after or "",)
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_token(r) for r in self._query(sql, args)]

    def revoke_token(self, name: str) -> Token:
        with self._tx() as db:
            row = db.execute("SELECT * FROM tokens WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFound(f"Token '{name}' does not exist.")
            token = _token(row)
            if token.revoked_at is not None:
                return token
            if token.role is Role.ADMIN:
                admins = db.execute(
                    "SELECT COUNT(*) AS n FROM tokens WHERE role = 'admin' AND revoked_at IS NULL"
                ).fetchone()["n"]
                if admins <= 1:
                    raise Conflict(
                        f"Token '{name}' is the last admin token that is not revoked; create another "
                        "admin token first, so that this installation can still be managed."
                    )
            token = replace(token, revoked_at=format_time(utcnow()))
            db.execute("UPDATE tokens SET revoked_at = ? WHERE name = ?", (token.revoked_at, name))
            return token


def _token(row: Row) -> Token:
    return Token(
        name=row["name"],
        role=Role(row["role"]),
        token_hash=row["token_hash"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


def _object(row: Row) -> StoredObject:
    return StoredObject(
        kind=row["kind"],
        name=row["name"],
        env=row["env"] or None,
        spec=json.loads(row["spec"]),
        generation=row["generation"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        status=json.loads(row["status"]),
        deleting=bool(row["deleting"]),
        cascade=bool(row["cascade_delete"]),
    )


def _record(row: Row) -> Record:
    return Record(
        id=str(row["id"]),
        kind=row["kind"],
        name=row["name"],
        env=row["env"] or None,
        generation=row["generation"],
        status=RecordStatus(row["status"]),
        cause=Cause(row["cause"]),
        created_at=row["created_at"],
        deadline=row["deadline"],
        spec=json.loads(row["spec"]),
        initiator=row["initiator"],
        source=row["source"],
        reason=row["reason"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        image=row["image"],
        image_digest=row["image_digest"],
        progress=json.loads(row["progress"] or "{}"),
        cancel_requested=row["cancel_requested"],
    )
