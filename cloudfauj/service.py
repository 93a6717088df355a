"""The core operations behind the API: apply, read, delete, records. No HTTP here, no AWS mutation.

Everything a client sends is validated as a whole batch (manifests, then references against stored
state) before anything is stored; a change is stored in one transaction with the record it opens, and
only then is the object's key handed to the reactor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cloudfauj import __version__, plans, tokens
from cloudfauj.aws import Gateway, ecr
from cloudfauj.errors import (
    CloudfaujError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Problem,
    Unavailable,
    WouldBlock,
)
from cloudfauj.logs import Cursor, log_group_of, read_app_logs
from cloudfauj.manifests import ParsedDocument, Source, app_collision_key, parse_sources, workload_problems
from cloudfauj.records import Cause, Record, RecordStatus, StoredObject, object_key, utcnow
from cloudfauj.settings import Settings
from cloudfauj.store import Desired, Store
from cloudfauj.tokens import Role
from controllers.base import Change
from controllers.gc import GC_KIND, GC_NAME, Owner, find_orphans

__all__ = ["Service"]

log = logging.getLogger("cloudfauj.service")


class Service:
    version = __version__

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        enqueue: Callable[[str], None],
        ready: Callable[[], bool],
        aws: Gateway | None = None,
        plan: Callable[[StoredObject], list[Change]] | None = None,
    ) -> None:
        """`aws` serves the read-only lookups (image digests, logs); `plan` is the reactor's observe-and-diff
        of an object without acting (for `diff` and dry runs). Both are absent in unit tests of the store."""
        self.store, self.settings = store, settings
        self._enqueue, self._ready = enqueue, ready
        self.aws, self._plan = aws, plan
        self.installation_id = store.installation_id()
        # the state of the server's sources of desired state besides clients: its sync directory, if any
        self.sources: Callable[[], list[dict[str, Any]]] = list

    def ready(self) -> bool:
        return self._ready()

    def list_sources(self) -> dict[str, Any]:
        return {"items": self.sources()}

    # -- apply -------------------------------------------------------------------------------------
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
        """Validate and store a batch of manifests, opening a record for each change. With `may_block`
        False (on the API's event loop), raise `WouldBlock` before doing anything if that would wait on the
        network: for a store that is not a local file, or to look an image's digest up in ECR."""
        if not may_block and not self.store.local:
            raise WouldBlock
        docs = parse_sources(sources, env=env, image=image, variables=variables)
        if not may_block and self.aws is not None and any(map(_in_ecr, docs)):
            raise WouldBlock
        _require_changes(role, docs, verb="apply")
        self._require_bounded_task_roles(role, docs)
        self._check_references(docs)
        batch = [
            Desired(
                kind=d.manifest.kind,
                name=d.manifest.metadata.name,
                env=d.manifest.metadata.env,
                spec=self._pin_image(d.manifest.spec.model_dump(mode="json")),
                image=getattr(d.manifest.spec, "image", None),
            )
            for d in docs
        ]
        # Environments first, so their records open (and their keys queue) before their apps'.
        batch.sort(key=lambda d: {"Domain": 0, "Environment": 1, "Application": 2}[d.kind])
        written = self.store.apply(
            batch,
            cause=Cause.APPLY,
            initiator=initiator,
            source=source,
            deadline_seconds=deadline_seconds or self.settings.deadline_seconds,
            force=force,
        )
        for w in written:
            if w.changed:
                self._enqueue(w.obj.key)
        return {
            "objects": [
                {
                    "kind": w.obj.kind,
                    "name": w.obj.name,
                    "env": w.obj.env,
                    "generation": w.obj.generation,
                    "changed": w.changed,
                    "record_id": w.record.id if w.record else None,
                }
                for w in written
            ],
            "records": [w.record.to_dict(events=[]) for w in written if w.record],
        }

    def _pin_image(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Record the digest an application's image tag points at now (this account's ECR only): the
        digest is part of what is deployed, so a re-pushed tag is a new generation and the same digest
        again is not. An image that cannot be found is not an input error: the deployment's pre-flight
        fails with the reason."""
        if "image" not in spec or self.aws is None:
            return spec
        try:
            found = ecr.resolve(self.aws, spec["image"])
        except CloudfaujError as e:  # AWS unreachable for now: deploy the tag as written
            log.warning("could not resolve %s: %s", spec["image"], e.message)
            return spec
        return {**spec, "image_digest": found.digest} if found.digest else spec

    def _require_bounded_task_roles(self, role: Role, docs: list[ParsedDocument]) -> None:
        """A task role grants the app's containers what its manifest attaches: a deployer may give one
        only when the server bounds every task role (`task_role_boundary`), or it could grant itself
        anything the server may attach."""
        found = _with_task_role(docs) if role == Role.DEPLOYER else None
        if found is not None and not self.settings.task_role_boundary:
            raise Forbidden(
                f"A deployer token may not give Application '{found.manifest.metadata.name}' a task_role: "
                "this server sets no task_role_boundary to limit what task roles may grant. "
                "Use an admin token, or set task_role_boundary in the server's config."
            )

    def _check_references(self, docs: list[ParsedDocument]) -> None:
        """Checks that need stored state: environments exist, names don't collide, features exist."""
        problems: list[Problem] = []
        batch_envs = {
            d.manifest.metadata.name: d.manifest.spec for d in docs if d.manifest.kind == "Environment"
        }
        batch_domains = {d.manifest.metadata.name for d in docs if d.manifest.kind == "Domain"}
        for d in docs:
            m = d.manifest
            domain = getattr(m.spec, "domain", None) if m.kind == "Environment" else None
            if domain and domain not in batch_domains:
                problems += self._missing("Domain", domain, d, "spec.domain", "add the domain")
            elif m.kind == "Application":
                problems += self._app_problems(d, batch_envs)
        if problems:
            raise InvalidInput(problems)

    def _app_problems(self, d: ParsedDocument, batch_envs: dict[str, Any]) -> list[Problem]:
        env, name = d.manifest.metadata.env or "", d.manifest.metadata.name
        if env not in batch_envs:
            missing = self._missing("Environment", env, d, "metadata.env", "apply the environment")
            if missing:
                return missing
        workload = workload_problems(
            d,
            region=self.aws.region if self.aws is not None else None,
            env_domain=self._env_domain(env, batch_envs),
        )
        if workload:
            return workload
        key = app_collision_key(env, name)
        for other_env, other_name in self.store.object_names("Application"):
            if (other_env, other_name) != (env, name) and app_collision_key(
                other_env or "", other_name
            ) == key:
                return [
                    d.problem(
                        "metadata.name",
                        f"would get the same AWS names ('{key}') as application "
                        f"'{other_name}' in environment '{other_env}'; rename one",
                    )
                ]
        return []

    def _env_domain(self, env: str, batch_envs: dict[str, Any]) -> str | None:
        if env in batch_envs:
            return getattr(batch_envs[env], "domain", None)
        stored = self.store.get_object("Environment", None, env)
        return stored.spec.get("domain") if stored is not None else None

    def _missing(self, kind: str, name: str, d: ParsedDocument, field: str, fix: str) -> list[Problem]:
        """A problem when the referenced object is neither stored nor being kept (it is being deleted)."""
        stored = self.store.get_object(kind, None, name)
        if stored is not None and not stored.deleting:
            return []
        state = "is being deleted" if stored else "does not exist"
        return [d.problem(field, f"{kind.lower()} '{name}' {state}; {fix} first or in the same batch")]

    # -- diff --------------------------------------------------------------------------------------
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
        """What `apply` of the same input would change, per AWS resource (`cloudfauj.plans`): validated
        and built exactly as apply does, planned by the controllers; nothing stored, nothing mutated."""
        docs = parse_sources(sources, env=env, image=image, variables=variables)
        _require_changes(role, docs, verb="diff")
        self._check_references(docs)
        if self._plan is None:
            raise Unavailable("This server was started without a planner, so it cannot diff; apply works.")
        planner = plans.Planner(self._plan, self.store.get_object, aws=self.aws, force=force)
        objects = [
            planner.object(
                d.manifest.kind,
                d.manifest.metadata.name,
                d.manifest.metadata.env,
                self._pin_image(d.manifest.spec.model_dump(mode="json")),
            )
            for d in sorted(docs, key=lambda d: plans.KIND_ORDER[d.manifest.kind])
        ]
        return {"changed": any(o["action"] != "unchanged" for o in objects), "objects": objects}

    # -- objects -----------------------------------------------------------------------------------
    def list_objects(self, kind: str, *, env: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
        rows = self.store.list_objects(kind, env=env, after=cursor, limit=limit + 1)
        page = rows[:limit]
        more = len(rows) > limit
        return {
            "items": [o.to_dict() for o in page],
            "next_cursor": f"{page[-1].env or ''}/{page[-1].name}" if more and page else None,
        }

    def get_object(self, kind: str, name: str, *, env: str | None = None) -> dict[str, Any]:
        obj = self.store.get_object(kind, env if kind == "Application" else None, name)
        if obj is None:
            where = f" in environment '{env}'" if kind == "Application" else ""
            raise NotFound(f"{kind} '{name}'{where} does not exist.")
        return obj.to_dict()

    def delete_object(
        self,
        kind: str,
        name: str,
        *,
        env: str | None = None,
        cascade: bool = False,
        initiator: str | None = None,
    ) -> dict[str, Any]:
        self.get_object(kind, name, env=env)
        targets: list[tuple[str, str | None, str]] = []
        if kind == "Environment":
            apps = self.store.list_objects("Application", env=name)
            if apps and not cascade:
                names = ", ".join(sorted(a.name for a in apps))
                raise Conflict(
                    f"Environment '{name}' still has applications ({names}); delete them first, "
                    "or pass --cascade to delete them with it."
                )
            targets += [("Application", a.env, a.name) for a in apps]
        elif kind == "Domain":
            envs = [e for e in self.store.list_objects("Environment") if e.spec.get("domain") == name]
            if envs and not cascade:
                users = ", ".join(sorted(e.name for e in envs))
                raise Conflict(
                    f"Domain '{name}' is used by environments ({users}); delete them first, "
                    "or pass --cascade to delete them and their applications with it."
                )
            for e in envs:
                apps = self.store.list_objects("Application", env=e.name)
                targets += [("Application", a.env, a.name) for a in apps] + [("Environment", None, e.name)]
        targets.append((kind, env if kind == "Application" else None, name))
        records = []
        for t_kind, t_env, t_name in targets:
            record = self.store.request_delete(
                t_kind,
                t_env,
                t_name,
                initiator=initiator,
                cascade=cascade,
                deadline_seconds=self.settings.deadline_seconds,
            )
            self._enqueue(object_key(t_kind, t_env, t_name))
            records.append(record.to_dict(events=[]))
        return {"records": records}

    # -- history: rollback, cancel, reconcile -------------------------------------------------------
    def rollback(
        self, env: str, app: str, *, to: str | None, initiator: str | None, source: str | None
    ) -> dict[str, Any]:
        """Open a deployment (cause `rollback`) that re-applies the spec snapshot of an earlier one:
        `to`, or by default the newest succeeded deployment whose spec differs from the current one."""
        obj = self.store.get_object("Application", env, app)
        if obj is None or obj.deleting:
            raise NotFound(f"Application '{app}' in environment '{env}' does not exist.")
        target = self._rollback_target(obj, to)
        written = self.store.apply(
            [Desired(kind=obj.kind, name=obj.name, env=obj.env, spec=target.spec, image=target.image)],
            cause=Cause.ROLLBACK,
            initiator=initiator,
            source=source or f"rollback to deployment {target.id}",
            deadline_seconds=self.settings.deadline_seconds,
            force=True,
        )
        self._enqueue(obj.key)
        return {
            "target": target.to_dict(events=[]),
            "records": [w.record.to_dict(events=[]) for w in written if w.record],
        }

    def _rollback_target(self, obj: StoredObject, to: str | None) -> Record:
        history = self.store.list_records(kind=obj.kind, env=obj.env, name=obj.name, limit=1000)
        if to is not None:
            target = next((r for r in history if r.id == to), None)
            if target is None:
                raise NotFound(f"Deployment '{to}' is not a deployment of '{obj.name}' in '{obj.env}'.")
            if target.status != RecordStatus.SUCCEEDED or target.cause == Cause.DELETE:
                raise Conflict(
                    f"Deployment {to} ended {target.status}; only a succeeded one can be rolled back to."
                )
            return target
        for record in history:
            if (
                record.status == RecordStatus.SUCCEEDED
                and record.cause != Cause.DELETE
                and record.spec != obj.spec
            ):
                return record
        raise Conflict(
            f"Application '{obj.name}' in '{obj.env}' has no earlier succeeded deployment to roll back to."
        )

    def cancel(self, record_id: str, *, initiator: str | None) -> dict[str, Any]:
        """Ask the reactor to stop an open record (a deployment's service returns to its last good one)."""
        record = self.store.get_record(record_id)
        if record is None:
            raise NotFound(f"Record '{record_id}' does not exist.")
        if record.terminal:
            raise Conflict(
                f"Record {record_id} has already ended ({record.status}); there is nothing to cancel."
            )
        record = self.store.request_cancel(record_id, initiator=initiator) or record
        self.store.append_event(record_id, "info", f"Cancel requested by {initiator or 'anonymous'}.")
        self._enqueue(object_key(record.kind, record.env, record.name))
        return {"records": [record.to_dict(events=[])]}

    def reconcile(
        self, kind: str, name: str, *, env: str | None, initiator: str | None, source: str | None
    ) -> dict[str, Any]:
        """Compare an object with AWS now (not at the next resync): a `drift` record that logs what
        differs and corrects it, or only reports it under the `report` drift policy."""
        obj = self.store.get_object(kind, env if kind == "Application" else None, name)
        if obj is None or obj.deleting:
            where = f" in environment '{env}'" if kind == "Application" else ""
            raise NotFound(f"{kind} '{name}'{where} does not exist.")
        record = self.store.current_record(obj.kind, obj.env, obj.name)
        if record is None:
            record = self.store.open_record(
                obj,
                cause=Cause.DRIFT,
                initiator=initiator,
                source=source or "reconcile",
                deadline_seconds=self.settings.deadline_seconds,
            )
        self._enqueue(obj.key)
        return {"records": [record.to_dict(events=[])]}

    # -- tokens ------------------------------------------------------------------------------------
    def create_token(self, name: str, role: Role) -> dict[str, Any]:
        """A new token of `role`; its secret is in this answer only (the store keeps a hash)."""
        problem = tokens.token_name_problem(name)
        if problem:
            raise InvalidInput([Problem(problem, field="name")])
        secret = tokens.new_secret()
        token = self.store.create_token(name, role, tokens.hash_secret(secret))
        log.info("created token %s with role %s", token.name, token.role)
        return {"name": token.name, "role": str(token.role), "token": secret}

    def list_tokens(self, *, limit: int, cursor: str | None) -> dict[str, Any]:
        rows = self.store.list_tokens(after=cursor, limit=limit + 1)
        page = rows[:limit]
        return {
            "items": [t.to_dict() for t in page],
            "next_cursor": page[-1].name if len(rows) > limit and page else None,
        }

    def revoke_token(self, name: str) -> dict[str, Any]:
        token = self.store.revoke_token(name)
        log.info("revoked token %s", token.name)
        return token.to_dict()

    # -- garbage collection ------------------------------------------------------------------------
    def gc(self, *, dry_run: bool, initiator: str | None) -> dict[str, Any]:
        """AWS resources carrying our tag that no live object owns (`controllers.gc`), found read-only.
        Without `dry_run` their deletion is handed to the reactor as an object-less record listing them
        (the API never mutates AWS); none found, no record."""
        if self.aws is None:
            raise Unavailable("This server was started without AWS access, so it cannot look for orphans.")
        orphans = [o.to_dict() for o in find_orphans(self.aws, self._owned)]
        if dry_run or not orphans:
            return {"dry_run": dry_run, "orphans": orphans, "records": []}
        standin = StoredObject(
            kind=GC_KIND,
            name=GC_NAME,
            env=None,
            spec={"orphans": orphans},
            generation=1,
            created_at="",
            updated_at="",
        )
        record = self.store.open_record(
            standin,
            cause=Cause.DELETE,
            initiator=initiator,
            source="gc",
            deadline_seconds=self.settings.deadline_seconds,
        )
        self.store.append_event(record.id, "info", f"{len(orphans)} orphaned AWS resource(s) to delete.")
        self._enqueue(object_key(GC_KIND, None, GC_NAME))
        return {"dry_run": False, "orphans": orphans, "records": [record.to_dict(events=[])]}

    def _owned(self, owner: Owner) -> bool:
        """Whether a live object owns what carries `owner`'s tags. An environment the store lost while it
        still has applications is left alone: tearing it down would break them."""
        if self.store.get_object(owner.kind, owner.env, owner.name) is not None:
            return True
        return owner.kind == "Environment" and bool(self.store.list_objects("Application", env=owner.name))

    # -- records -----------------------------------------------------------------------------------
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
        rows = self.store.list_records(
            kind=kind, env=env, name=name, status=status, before=cursor, limit=limit + 1
        )
        page = rows[:limit]
        events = self.store.events_of([r.id for r in page])  # one query for the page, not one per record
        return {
            "items": [r.to_dict(events=events[r.id]) for r in page],
            "next_cursor": page[-1].id if len(rows) > limit and page else None,
        }

    def get_record(self, record_id: str) -> dict[str, Any]:
        record = self.store.get_record(record_id)
        if record is None:
            raise NotFound(f"Record '{record_id}' does not exist.")
        return record.to_dict(events=self.store.events(record_id))

    def record_events(self, record_id: str, *, after: int = 0) -> dict[str, Any]:
        record = self.store.get_record(record_id)
        if record is None:
            raise NotFound(f"Record '{record_id}' does not exist.")
        return {
            "record": record.to_dict(),
            "items": [e.to_dict() for e in self.store.events(record_id, after=after)],
        }

    # -- application logs --------------------------------------------------------------------------
    def app_logs(
        self, env: str, name: str, *, since: str | None, cursor: str | None, limit: int
    ) -> dict[str, Any]:
        """What an application's tasks wrote (`cloudfauj.logs`), oldest first: after `cursor`, else from
        `since` ago (`10m`), else from the start. Read-only."""
        start = Cursor.decode(cursor) if cursor else Cursor.starting(since, now=utcnow())
        env_obj = self.get_object("Environment", env)
        app = self.get_object("Application", name, env=env)
        if self.aws is None:
            raise Unavailable("This server was started without AWS access, so it cannot read app logs.")
        group = log_group_of(app, env_obj)
        return read_app_logs(self.aws, log_group=group, app=name, start=start, limit=limit)


def _in_ecr(doc: ParsedDocument) -> bool:
    """Whether the document deploys an image from an ECR registry, whose digest apply looks up."""
    image = getattr(doc.manifest.spec, "image", None)
    return isinstance(image, str) and ecr.parse_ecr_image(image) is not None


def _with_task_role(docs: list[ParsedDocument]) -> ParsedDocument | None:
    return next((d for d in docs if getattr(d.manifest.spec, "task_role", None)), None)


def _require_changes(role: Role, docs: list[ParsedDocument], *, verb: str) -> None:
    """A batch is refused whole (403) when it holds a kind the caller's role may not change."""
    for d in docs:
        tokens.require_change(role, d.manifest.kind, d.manifest.metadata.name, verb=verb)
