"""An in-memory stand-in for `cloudfauj.service.Service`, for tests of the API and of its clients.

It is the narrowest boundary the API owns: the same methods, the same dict shapes (built with the real
`Record`, `Event` and `StoredObject`), canned behaviour instead of a store and a reactor. Records move
one step each time their events are read — pending → in_progress → terminal — so a client following a
record sees it progress without any clock. What a record ends as is `outcome(record)`: "succeeded",
"failed", or "hang" (never finishes); by default an image containing "missing" fails.

Manifests are read loosely (YAML documents; `kind:` documents, or upstream files recognised by their
keys); the real validation is tested with `cloudfauj.manifests`.

It is also the app's authenticator (`create_app(service, authenticator=service)`): tokens live in memory,
checked like the real ones (hashed, roles, revocation); it starts with one admin token, `ADMIN_TOKEN`,
and tests add others with `add_token`.
"""

from __future__ import annotations

import hmac
import itertools
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from cloudfauj import tokens
from cloudfauj.errors import Conflict, InvalidInput, NotFound, Problem, WouldBlock
from cloudfauj.logs import Cursor, log_line, stream_prefix
from cloudfauj.manifests import Source
from cloudfauj.records import Cause, Event, Record, RecordStatus, StoredObject, format_time, utcnow
from cloudfauj.tokens import Identity, Role, Token

__all__ = ["ADMIN_TOKEN", "FakeService"]

ADMIN_TOKEN = "cf_fake-admin-token"  # the secret of the admin token every FakeService starts with

Key = tuple[str, str | None, str]


def _default_outcome(record: Record) -> str:
    return "failed" if record.image and "missing" in record.image else "succeeded"


class FakeService:
    installation_id = "fake-installation"
    version = "0.0.0+fake"

    def __init__(self, outcome: Callable[[Record], str] = _default_outcome) -> None:
        self.outcome = outcome
        self.is_ready = True
        self.apply_would_block = False  # as the real one does for ECR images or a remote store
        self.calls: list[tuple[str, dict[str, Any]]] = []  # (method, arguments), for assertions
        self.objects: dict[Key, StoredObject] = {}
        self.records: dict[str, Record] = {}  # in creation order
        self.events: dict[str, list[Event]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.log_events: dict[str, list[dict[str, Any]]] = {}  # per environment (its log group)
        self.tokens: dict[str, Token] = {}  # by name
        self.orphans: list[dict[str, Any]] = []  # what `gc` finds (OrphanOut shapes); a real run clears it
        self.sources: list[dict[str, Any]] = []  # what `GET /v1/sources` lists (SourceOut shapes)
        self.add_token(ADMIN_TOKEN, name="admin", role=Role.ADMIN)

    # -- the Service interface ---------------------------------------------------------------------
    def ready(self) -> bool:
        return self.is_ready

    def apply(
        self,
        sources: list[Source],
        *,
        env: str | None,
        image: str | None,
        deadline_seconds: float | None,
        source: str | None,
        force: bool,
        initiator: str | None,
        role: Role = Role.ADMIN,
        variables: dict[str, str] | None = None,
        may_block: bool = True,
    ) -> dict[str, Any]:
        if self.apply_would_block and not may_block:
            raise WouldBlock
        with self._lock:
            self.calls.append(
                (
                    "apply",
                    {
                        "sources": sources,
                        "env": env,
                        "image": image,
                        "force": force,
                        "deadline_seconds": deadline_seconds,
                        "source": source,
                        "initiator": initiator,
                        "variables": variables,
                        "may_block": may_block,
                    },
                )
            )
            docs = [doc for s in sources for doc in _documents(s, env=env, image=image)]
            for kind, name, _, _ in docs:
                tokens.require_change(role, kind, name, verb="apply")
            objects, records = [], []
            for kind, name, doc_env, spec in docs:
                obj, record = self._store(kind, name, doc_env, spec, force=force, source=source)
                objects.append(
                    {
                        "kind": kind,
                        "name": name,
                        "env": obj.env,
                        "generation": obj.generation,
                        "changed": record is not None,
                        "record_id": record.id if record else None,
                    }
                )
                if record:
                    records.append(record.to_dict(events=[]))
            return {"objects": objects, "records": records}

    def diff(
        self,
        sources: list[Source],
        *,
        env: str | None,
        image: str | None,
        force: bool = False,
        role: Role = Role.ADMIN,
        variables: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Canned plans: one resource per object, named after its kind, whose fields are the spec's."""
        with self._lock:
            self.calls.append(("diff", {"sources": sources, "env": env, "image": image, "force": force}))
            docs = [doc for s in sources for doc in _documents(s, env=env, image=image)]
            for kind, name, _, _ in docs:
                tokens.require_change(role, kind, name, verb="diff")
            objects = [self._diff_one(kind, name, doc_env, spec) for kind, name, doc_env, spec in docs]
            return {"changed": any(o["action"] != "unchanged" for o in objects), "objects": objects}

    def list_objects(self, kind: str, *, env: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("list_objects", {"kind": kind, "env": env, "limit": limit, "cursor": cursor}))
            rows = sorted(
                (o for o in self.objects.values() if o.kind == kind and (env is None or o.env == env)),
                key=lambda o: (o.env or "", o.name),
            )
            rows = [o for o in rows if cursor is None or f"{o.env or ''}/{o.name}" > cursor]
            page = rows[:limit]
            more = len(rows) > limit
            return {
                "items": [o.to_dict() for o in page],
                "next_cursor": f"{page[-1].env or ''}/{page[-1].name}" if more else None,
            }

    def get_object(self, kind: str, name: str, *, env: str | None = None) -> dict[str, Any]:
        with self._lock:
            return self._object(kind, name, env).to_dict()

    def delete_object(
        self,
        kind: str,
        name: str,
        *,
        env: str | None = None,
        cascade: bool = False,
        initiator: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("delete_object", {"kind": kind, "name": name, "env": env, "cascade": cascade}))
            obj = self._object(kind, name, env)
            targets = [obj]
            if kind == "Environment":
                apps = [o for o in self.objects.values() if o.kind == "Application" and o.env == name]
                if apps and not cascade:
                    raise Conflict(
                        f"Environment '{name}' still has applications "
                        f"({', '.join(sorted(a.name for a in apps))}); delete them first."
                    )
                targets = apps + targets
            records = [self._open(o, Cause.DELETE, source=None) for o in targets]
            return {"records": [r.to_dict(events=[]) for r in records]}

    def rollback(
        self, env: str, app: str, *, to: str | None, initiator: str | None, source: str | None
    ) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("rollback", {"env": env, "app": app, "to": to, "source": source}))
            obj = self._object("Application", app, env)
            history = [r for r in self.records.values() if (r.kind, r.env, r.name) == (obj.kind, env, app)]
            good = [r for r in history if r.status == RecordStatus.SUCCEEDED and (to is None or r.id == to)]
            if not good:
                raise Conflict(f"Application '{app}' has no earlier succeeded deployment to roll back to.")
            record = self._open(obj, Cause.ROLLBACK, source=source)
            return {"target": good[-1].to_dict(events=[]), "records": [record.to_dict(events=[])]}

    def cancel(self, record_id: str, *, initiator: str | None) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("cancel", {"id": record_id}))
            record = self._record(record_id)
            if record.terminal:
                raise Conflict(f"Record {record_id} has already ended ({record.status}); nothing to cancel.")
            return {"records": [record.to_dict(events=[])]}

    def reconcile(
        self, kind: str, name: str, *, env: str | None, initiator: str | None, source: str | None
    ) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("reconcile", {"kind": kind, "name": name, "env": env}))
            record = self._open(self._object(kind, name, env), Cause.DRIFT, source=source)
            return {"records": [record.to_dict(events=[])]}

    def list_records(
        self,
        *,
        kind: str | None,
        env: str | None,
        name: str | None,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> dict[str, Any]:
        with self._lock:
            self.calls.append(
                (
                    "list_records",
                    {
                        "kind": kind,
                        "env": env,
                        "name": name,
                        "status": status,
                        "limit": limit,
                        "cursor": cursor,
                    },
                )
            )
            rows = [
                r
                for r in reversed(self.records.values())
                if (kind is None or r.kind == kind)
                and (name is None or r.name == name)
                and (status is None or r.status == status)
                and (env is None or r.to_dict()["env"] == env)
            ]
            if cursor is not None:
                ids = [r.id for r in rows]
                rows = rows[ids.index(cursor) + 1 :] if cursor in ids else []
            page = rows[:limit]
            return {
                "items": [r.to_dict(events=self.events[r.id]) for r in page],
                "next_cursor": page[-1].id if len(rows) > limit else None,
            }

    def get_record(self, record_id: str) -> dict[str, Any]:
        with self._lock:
            record = self._record(record_id)
            return record.to_dict(events=self.events[record_id])

    def record_events(self, record_id: str, *, after: int = 0) -> dict[str, Any]:
        with self._lock:
            record = self._advance(self._record(record_id))
            return {
                "record": record.to_dict(),
                "items": [e.to_dict() for e in self.events[record_id] if e.seq > after],
            }

    def app_logs(
        self, env: str, name: str, *, since: str | None, cursor: str | None, limit: int
    ) -> dict[str, Any]:
        """As CloudWatch answers: the lines of the app's streams in its environment's group, in time order."""
        with self._lock:
            self.calls.append(
                ("app_logs", {"env": env, "name": name, "since": since, "cursor": cursor, "limit": limit})
            )
            start = Cursor.decode(cursor) if cursor else Cursor.starting(since, now=utcnow())
            self._object("Environment", env, None)
            self._object("Application", name, env)
            found = sorted(
                (
                    e
                    for e in self.log_events.get(env, [])
                    if e["logStreamName"].startswith(stream_prefix(name)) and start.is_new(e)
                ),
                key=lambda e: int(e["timestamp"]),
            )
            page = found[:limit]
            return {
                "items": [log_line(e) for e in page],
                "next_cursor": start.after(page).encode(),
                "more": len(found) > limit,
            }

    # -- tokens, and the authenticator -------------------------------------------------------------
    def authenticate(self, secret: str) -> Identity | None:
        digest = tokens.hash_secret(secret)
        with self._lock:
            for token in self.tokens.values():
                if token.revoked_at is None and hmac.compare_digest(token.token_hash, digest):
                    return Identity(token.name, token.role)
        return None

    def create_token(self, name: str, role: Role) -> dict[str, Any]:
        problem = tokens.token_name_problem(name)
        if problem:
            raise InvalidInput([Problem(problem, field="name")])
        secret = tokens.new_secret()
        self.add_token(secret, name=name, role=role)
        return {"name": name, "role": str(role), "token": secret}

    def list_sources(self) -> dict[str, Any]:
        return {"items": list(self.sources)}

    def list_tokens(self, *, limit: int, cursor: str | None) -> dict[str, Any]:
        with self._lock:
            rows = [t for name, t in sorted(self.tokens.items()) if cursor is None or name > cursor]
        page = rows[:limit]
        return {
            "items": [t.to_dict() for t in page],
            "next_cursor": page[-1].name if len(rows) > limit else None,
        }

    def revoke_token(self, name: str) -> dict[str, Any]:
        with self._lock:
            token = self.tokens.get(name)
            if token is None:
                raise NotFound(f"Token '{name}' does not exist.")
            if token.revoked_at is None:
                token = replace(token, revoked_at=format_time(utcnow()))
                self.tokens[name] = token
            return token.to_dict()

    def gc(self, *, dry_run: bool, initiator: str | None) -> dict[str, Any]:
        with self._lock:
            self.calls.append(("gc", {"dry_run": dry_run}))
            found = list(self.orphans)
            if dry_run or not found:
                return {"dry_run": dry_run, "orphans": found, "records": []}
            kind = "GarbageCollection"
            record = self._new_record(
                kind, "orphans", None, generation=1, cause=Cause.DELETE, image=None, source="gc"
            )
            self.records[record.id] = record
            self.orphans = []
            return {"dry_run": False, "orphans": found, "records": [record.to_dict(events=[])]}

    # -- helpers for tests -------------------------------------------------------------------------
    def add_token(self, secret: str, *, name: str, role: Role) -> None:
        """A token whose secret is `secret`; `Conflict` when the name is taken."""
        with self._lock:
            if name in self.tokens:
                raise Conflict(f"A token named '{name}' exists already.")
            self.tokens[name] = Token(name, role, tokens.hash_secret(secret), format_time(utcnow()))

    def add_record(
        self,
        kind: str,
        name: str,
        *,
        env: str | None = None,
        image: str | None = None,
        status: str = "succeeded",
        messages: tuple[str, ...] = ("Done.",),
    ) -> str:
        """A record as if it had already run; returns its id."""
        with self._lock:
            record = self._new_record(
                kind, name, env, generation=1, cause=Cause.APPLY, image=image, source=None
            )
            record = replace(record, status=RecordStatus(status))
            for message in messages:
                self._event(record.id, "info", message)
            self.records[record.id] = record
            return record.id

    def add_log_line(
        self, env: str, app: str, task_id: str, message: str, *, at: datetime | None = None
    ) -> None:
        """A line one of the app's tasks wrote (to stream `<app>/<app>/<task_id>`), at `at` or now."""
        with self._lock:
            events = self.log_events.setdefault(env, [])
            events.append(
                {
                    "timestamp": int((at or utcnow()).timestamp() * 1000),
                    "eventId": f"{env}-{len(events) + 1}",
                    "logStreamName": f"{app}/{app}/{task_id}",
                    "message": message,
                }
            )

    # -- internals -----------------------------------------------------------------------------------
    def _diff_one(self, kind: str, name: str, env: str | None, spec: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": kind, "name": name, "env": env, "changes": [], "message": None}
        old = self.objects.get((kind, env, name))
        if kind == "Application" and ("Environment", None, env) not in self.objects:
            return out | {"action": "waiting", "message": f"would be created once environment {env} is ready"}
        before = _flat(old.spec) if old else {}
        fields = [
            {"path": path, "old": before.get(path), "new": value}
            for path, value in _flat(spec).items()
            if before.get(path) != value
        ]
        if old is not None and not fields:
            return out | {"action": "unchanged"}
        action = "update" if old else "create"
        return out | {
            "action": action,
            "changes": [{"resource": kind.lower(), "action": action, "fields": fields}],
        }

    def _store(
        self, kind: str, name: str, env: str | None, spec: dict[str, Any], *, force: bool, source: str | None
    ) -> tuple[StoredObject, Record | None]:
        now = format_time(utcnow()) or ""
        key = (kind, env, name)
        old = self.objects.get(key)
        if old is not None and old.spec == spec and not force:
            return old, None
        generation = old.generation + 1 if old else 1
        obj = StoredObject(
            kind=kind,
            name=name,
            env=env,
            spec=spec,
            generation=generation,
            created_at=old.created_at if old else now,
            updated_at=now,
            status=dict(old.status) if old else {"phase": "pending"},
        )
        self.objects[key] = obj
        return obj, self._open(obj, Cause.APPLY, source=source)

    def _open(self, obj: StoredObject, cause: Cause, *, source: str | None) -> Record:
        for rid, other in self.records.items():
            if (other.kind, other.env, other.name) == (obj.kind, obj.env, obj.name) and not other.terminal:
                self.records[rid] = other.finish(
                    RecordStatus.SUPERSEDED, "A newer generation was applied.", now=utcnow()
                )
        record = self._new_record(
            obj.kind,
            obj.name,
            obj.env,
            generation=obj.generation,
            cause=cause,
            image=obj.spec.get("image"),
            source=source,
        )
        self.records[record.id] = record
        return record

    def _new_record(
        self,
        kind: str,
        name: str,
        env: str | None,
        *,
        generation: int,
        cause: Cause,
        image: str | None,
        source: str | None,
    ) -> Record:
        rid = f"rec-{next(self._ids):04d}"
        now = utcnow()
        self.events[rid] = []
        return Record(
            id=rid,
            kind=kind,
            name=name,
            env=env if kind == "Application" else None,
            generation=generation,
            status=RecordStatus.PENDING,
            cause=cause,
            created_at=format_time(now) or "",
            deadline=format_time(now + timedelta(minutes=15)) or "",
            spec={},
            source=source,
            image=image,
        )

    def _advance(self, record: Record) -> Record:
        """One step of a make-believe reconciliation."""
        if record.terminal:
            return record
        outcome = self.outcome(record)
        if record.status == RecordStatus.PENDING:
            record = record.start(now=utcnow())
            self._event(record.id, "info", f"Reconciling {record.kind} '{record.name}'.")
        elif outcome == "hang":
            return record  # stays in progress, silently
        elif outcome == "failed":
            self._event(record.id, "error", "The rollout failed.")
            record = record.finish(RecordStatus.FAILED, "Tasks failed to start: image missing.", now=utcnow())
        else:
            self._event(
                record.id, "aws", "Created the service.", action="create_service", resource=record.name
            )
            record = record.finish(RecordStatus.SUCCEEDED, None, now=utcnow())
            self._settle(record)
        self.records[record.id] = record
        return record

    def _settle(self, record: Record) -> None:
        key = (record.kind, record.env, record.name)
        if record.cause == Cause.DELETE:
            self.objects.pop(key, None)
        elif key in self.objects:
            obj = self.objects[key]
            outputs = (
                {"name_servers": ["ns-1.example.net", "ns-2.example.org"]} if obj.kind == "Domain" else {}
            )
            self.objects[key] = replace(
                obj,
                status={
                    "phase": "ready",
                    "observed_generation": obj.generation,
                    "outputs": outputs,
                    "last_record": record.id,
                },
            )

    def _event(self, record_id: str, type_: str, message: str, **extra: Any) -> None:
        log = self.events[record_id]
        log.append(
            Event(seq=len(log) + 1, at=format_time(utcnow()) or "", type=type_, message=message, **extra)
        )

    def _object(self, kind: str, name: str, env: str | None) -> StoredObject:
        obj = self.objects.get((kind, env if kind == "Application" else None, name))
        if obj is None:
            raise NotFound(f"{kind} '{name}' does not exist.")
        return obj

    def _record(self, record_id: str) -> Record:
        if record_id not in self.records:
            raise NotFound(f"Record '{record_id}' does not exist.")
        return self.records[record_id]


def _documents(
    source: Source, *, env: str | None, image: str | None
) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """(kind, name, env, spec) of each document, read loosely."""
    try:
        docs = [d for d in YAML(typ="safe").load_all(source.text) if d is not None]
    except YAMLError as e:
        line = e.problem_mark.line + 1 if isinstance(e, MarkedYAMLError) and e.problem_mark else None
        raise InvalidInput(
            [Problem(f"not valid YAML: {getattr(e, 'problem', e)}", file=source.name, line=line)]
        ) from e
    if not docs:
        raise InvalidInput([Problem("the file holds no manifest", file=source.name)])
    out = []
    for doc in docs:
        if "kind" in doc:
            meta = doc.get("metadata", {})
            out.append((doc["kind"], meta["name"], meta.get("env"), dict(doc.get("spec", {}))))
        elif "orchestrator" in doc or "dns_service" in doc:
            kind = "Environment" if "orchestrator" in doc else "Domain"
            out.append((kind, doc["name"], None, {k: v for k, v in doc.items() if k != "name"}))
        elif env is None:
            raise InvalidInput(
                [Problem("an application file needs a target environment: pass --env", file=source.name)]
            )
        else:
            spec = {k: v for k, v in doc.items() if k != "name"} | {"image": image}
            out.append(("Application", doc["name"], env, spec))
    return out


def _flat(spec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"resources": {"cpu": 256}}` as `{"resources.cpu": 256}`."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out
