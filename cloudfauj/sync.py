"""Directory sync (`cloudfauj server --sync-dir DIR [--prune]`): the server applies what a directory of
manifests holds, again at every change, like Argo CD's and Flux's automated sync.

Where it sits: a task of the server's lifespan watches DIR (watchfiles, debounced, with a poll every
`sync_poll_seconds` as a fallback) and, in a thread, reads the current *revision* and hands it to
`Service.apply` exactly as a client's apply would be — so validation, records and the reactor are the
same. A revision is:

- when DIR is (inside) a git checkout, its committed HEAD: the `.yml`/`.yaml` files under DIR as they are
  in that commit, read with `git ls-tree` and `git cat-file`, never from the work tree (uncommitted edits
  are not applied); every record it opens carries the commit SHA as `source`;
- otherwise the files as they are, identified by a digest of their names and contents.

Files and directories whose name starts with `.` (`.github/`, `.gitlab-ci.yml`) are not manifests.

A revision is applied all or nothing: one invalid file, and nothing from it is applied or pruned; the
error is logged once and shown by `GET /v1/sources` (`cloudfauj get sources`) until a revision that
applies arrives. The same revision is never applied twice, so a failed one is not retried — a new
commit (or save) is.

Provenance, for `--prune`: every apply of the sync is initiated by `sync-dir:<DIR>`, a name no token can
have (token names have no `:`). An object belongs to the directory while the last record that changed
its spec (apply, rollback or redeploy) was opened by that initiator; one applied or rolled back by
anyone else is never pruned. Pruning deletes those objects the current revision no longer holds,
applications before environments before domains, and an environment or domain only with what is
built on it when all of that is being pruned too.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import watchfiles

from cloudfauj.errors import CloudfaujError, InvalidInput
from cloudfauj.manifests import Source
from cloudfauj.records import Cause, StoredObject, format_time, utcnow
from cloudfauj.service import Service
from cloudfauj.store import Store
from cloudfauj.tokens import Role

__all__ = ["DirectorySync", "Revision", "SyncError", "read_revision"]

log = logging.getLogger("cloudfauj.sync")
MANIFEST_SUFFIXES = (".yml", ".yaml")
DEBOUNCE_MS = 500
GIT_TIMEOUT = 60.0
SPEC_CAUSES = (Cause.APPLY, Cause.ROLLBACK, Cause.REDEPLOY)  # records that say who set an object's spec
PRUNE_ORDER = ("Application", "Environment", "Domain")


class SyncError(CloudfaujError):
    """The directory cannot be read as a revision (git failed, no commit yet, a file is not text)."""

    code = "sync_error"


@dataclass(frozen=True)
class Revision:
    id: str  # the commit SHA, or `sha256:...` of the files
    source: str  # what the records it opens carry as `source`
    kind: str  # git or directory
    files: list[Source] = field(default_factory=list)


def read_revision(directory: Path) -> Revision:
    top = _git(directory, "rev-parse", "--show-toplevel", quiet=True)
    if top is None:
        return _read_directory(directory)
    return _read_commit(Path(top.strip()), _git(directory, "rev-parse", "--show-prefix") or "")


def _git(cwd: Path, *args: str, quiet: bool = False) -> str | None:
    """git's output; None when `quiet` and git failed (or is not installed), else a SyncError."""
    try:
        done = subprocess.run(
            ["git", "-C", str(cwd), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        if quiet:
            return None
        raise SyncError(f"Cannot run `git {' '.join(args)}` in {cwd}: {e}.") from e
    if done.returncode != 0:
        if quiet:
            return None
        said = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        raise SyncError(f"`git {' '.join(args)}` failed in {cwd}: {said}.")
    return done.stdout


def _read_commit(top: Path, prefix: str) -> Revision:
    prefix = prefix.strip()
    sha = _git(top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", quiet=True)
    if not sha:
        raise SyncError(f"The git checkout {top} has no commit yet; commit the manifests to apply them.")
    sha = sha.strip()
    listing = _git(top, "ls-tree", "-r", "-z", "--name-only", sha, "--", *([prefix] if prefix else [])) or ""
    files = []
    for path in sorted(p for p in listing.split("\0") if p):
        name = path[len(prefix) :]
        if _is_manifest(name):
            files.append(Source(name=name, text=_text(name, _blob(top, sha, path))))
    return Revision(id=sha, source=sha, kind="git", files=files)


def _blob(top: Path, sha: str, path: str) -> bytes:
    done = subprocess.run(
        ["git", "-C", str(top), "cat-file", "blob", f"{sha}:{path}"],
        capture_output=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise SyncError(f"Cannot read {path} of commit {sha[:12]}: {done.stderr.decode(errors='replace')}")
    return done.stdout


def _read_directory(directory: Path) -> Revision:
    files = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(directory).as_posix()
        if _is_manifest(name):
            try:
                files.append(Source(name=name, text=_text(name, path.read_bytes())))
            except OSError as e:
                raise SyncError(f"Cannot read {name} in {directory}: {e.strerror}.") from e
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.name}\0{f.text}\0".encode())
    return Revision(id=f"sha256:{digest.hexdigest()}", source=f"{directory}", kind="directory", files=files)


def _is_manifest(name: str) -> bool:
    return name.endswith(MANIFEST_SUFFIXES) and not any(part.startswith(".") for part in name.split("/"))


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise SyncError(f"{name}, line {line}: the file is not UTF-8 text; save it as UTF-8.") from None


class DirectorySync:
    """Keeps the store applied from one directory; `status()` is what `GET /v1/sources` shows."""

    def __init__(
        self, service: Service, store: Store, directory: Path, *, prune: bool, poll_seconds: float = 10.0
    ) -> None:
        self.service, self.store = service, store
        self.directory = directory.resolve()
        self.prune, self.poll_seconds = prune, poll_seconds
        self.initiator = f"sync-dir:{self.directory}"
        self._applied: str | None = None  # the revision last applied
        self._refused: str | None = None  # a revision that failed validation: not tried again
        self._state: dict[str, Any] = {
            "name": "sync-dir",
            "path": str(self.directory),
            "type": None,
            "prune": prune,
            "status": "pending",
            "revision": None,
            "applied_revision": None,
            "applied_at": None,
            "checked_at": None,
            "error": None,
            "objects": [],
            "pruned": [],
        }

    def status(self) -> list[dict[str, Any]]:
        return [dict(self._state)]

    async def run(self) -> None:
        """Sync now, then at every change in the directory (and every `poll_seconds`) until cancelled."""
        await self._pass()
        try:
            async for _ in watchfiles.awatch(
                self.directory,
                watch_filter=None,  # .git/ too: a commit or a pull changes HEAD there, not in the work tree
                debounce=DEBOUNCE_MS,
                rust_timeout=int(self.poll_seconds * 1000),
                yield_on_timeout=True,
            ):
                await self._pass()
        except (OSError, RuntimeError) as e:  # e.g. the directory was removed, or no watches are left
            log.warning(
                "sync-dir: cannot watch %s (%s); looking every %g s", self.directory, e, self.poll_seconds
            )
        while True:
            await asyncio.sleep(self.poll_seconds)
            await self._pass()

    async def _pass(self) -> None:
        try:
            await asyncio.to_thread(self.sync_once)
        except Exception as e:  # noqa: BLE001 - a bug in one pass must not end syncing for the server's life
            log.exception("sync-dir: unexpected error syncing %s", self.directory)
            self._failed(None, f"Unexpected error syncing {self.directory}: {type(e).__name__}: {e}")

    def sync_once(self) -> None:
        """Apply the directory's current revision, unless it was applied or refused already."""
        self._state["checked_at"] = format_time(utcnow())
        try:
            revision = read_revision(self.directory)
        except SyncError as e:
            self._failed(None, e.message)
            return
        self._state["type"] = revision.kind
        if revision.id in (self._applied, self._refused):
            return
        self._state["revision"] = revision.id
        if not revision.files:
            self._refuse(
                revision, "it holds no manifest (.yml or .yaml file), so nothing was applied or pruned"
            )
            return
        try:
            result = self.service.apply(
                revision.files,
                env=None,
                image=None,
                deadline_seconds=None,
                source=revision.source,
                force=False,
                initiator=self.initiator,
                role=Role.ADMIN,
            )
        except InvalidInput as e:
            self._refuse(revision, f"nothing from it was applied or pruned: {e.message}")
            return
        except CloudfaujError as e:  # e.g. a conflict with a deletion in progress: try again later
            self._failed(revision.id, f"Revision {revision.id} could not be applied yet: {e.message}")
            return
        kept = {(o["kind"], o["env"], o["name"]) for o in result["objects"]}
        pruned = self._prune(kept) if self.prune else []
        changed = sum(1 for o in result["objects"] if o["changed"])
        log.info(
            "sync-dir %s: applied revision %s (%d object(s), %d changed, %d pruned)",
            self.directory,
            revision.id,
            len(kept),
            changed,
            len(pruned),
            extra={"revision": revision.id},
        )
        self._applied, self._refused = revision.id, None
        self._state.update(
            status="synced",
            applied_revision=revision.id,
            applied_at=format_time(utcnow()),
            error=None,
            objects=[_label(k, e, n) for k, e, n in sorted(kept, key=str)],
            pruned=pruned,
        )

    def _refuse(self, revision: Revision, why: str) -> None:
        self._refused = revision.id
        self._failed(revision.id, f"Revision {revision.id} of {self.directory} was not applied: {why}")

    def _failed(self, revision: str | None, message: str) -> None:
        if self._state["error"] != message:
            log.error("sync-dir: %s", message, extra={"revision": revision})
        self._state.update(status="failed", error=message)

    # -- prune ------------------------------------------------------------------------------------
    def _prune(self, kept: set[tuple[str, str | None, str]]) -> list[str]:
        gone = [
            obj
            for kind in PRUNE_ORDER
            for obj in self.store.list_objects(kind)
            if not obj.deleting and (obj.kind, obj.env, obj.name) not in kept and self._owns(obj)
        ]
        going = {(o.kind, o.env, o.name) for o in gone}
        pruned = []
        for obj in gone:
            if obj.kind == "Application" and ("Environment", None, obj.env) in going:
                continue  # deleted with its environment (cascade)
            if obj.kind == "Environment" and ("Domain", None, obj.spec.get("domain")) in going:
                continue  # deleted with its domain (cascade)
            built_on = [(d.kind, d.env, d.name) for d in self._dependents(obj)]
            kept_on = [d for d in built_on if d not in going]
            if kept_on:
                log.warning(
                    "sync-dir: not pruning %s: %s was not applied from %s",
                    _label(obj.kind, obj.env, obj.name),
                    ", ".join(_label(*d) for d in kept_on),
                    self.directory,
                )
                continue
            try:
                self.service.delete_object(
                    obj.kind, obj.name, env=obj.env, cascade=bool(built_on), initiator=self.initiator
                )
            except CloudfaujError as e:
                log.warning(
                    "sync-dir: could not prune %s: %s", _label(obj.kind, obj.env, obj.name), e.message
                )
                continue
            pruned.append(_label(obj.kind, obj.env, obj.name))
        return pruned

    def _owns(self, obj: StoredObject) -> bool:
        records = self.store.list_records(kind=obj.kind, env=obj.env, name=obj.name, limit=50)
        setter = next((r for r in records if r.cause in SPEC_CAUSES), None)
        return setter is not None and setter.initiator == self.initiator

    def _dependents(self, obj: StoredObject) -> Iterable[StoredObject]:
        if obj.kind == "Environment":
            return [a for a in self.store.list_objects("Application", env=obj.name) if not a.deleting]
        if obj.kind == "Domain":
            envs = [e for e in self.store.list_objects("Environment") if e.spec.get("domain") == obj.name]
            apps = [a for e in envs for a in self.store.list_objects("Application", env=e.name)]
            return [o for o in [*envs, *apps] if not o.deleting]
        return []


def _label(kind: str, env: str | None, name: str) -> str:
    return f"{kind.lower()}/{name}" + (f" in {env}" if env else "")
