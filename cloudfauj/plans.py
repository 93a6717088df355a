"""What an apply would change, object by object and AWS resource by resource: `diff` and `apply --dry-run`.

Where it sits: `Service.diff` parses and checks a batch exactly as `apply` does and builds each object as
apply would store it (the proposed spec on a copy of the stored object, or a new object of generation 0);
a `Planner` asks the reactor's planner about each — the controllers' own observe and pure diff, so a diff
says what a reconcile would do — and turns the answers into the document `POST /v1/diff` returns. Nothing
is stored, no record is opened, AWS is only read.

An object whose plan cannot be made yet (its environment or domain is new in the same batch, or not ready:
`TemporaryError`) is `waiting`; one whose reconcile would fail (`PermanentError`, e.g. a resource of that
name not managed by Cloudfauj) is `blocked`. Both count as changes, like kubectl's diff of an object it
cannot compare: the apply would do something, or try to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from cloudfauj.aws import Gateway, ecr
from cloudfauj.errors import CloudfaujError, PermanentError, TemporaryError
from cloudfauj.records import StoredObject
from controllers.base import Change

__all__ = ["KIND_ORDER", "Planner", "shown_image", "spec_paths"]

KIND_ORDER = {"Domain": 0, "Environment": 1, "Application": 2}  # what an object depends on comes first
Lookup = Callable[[str, str | None, str], StoredObject | None]


def spec_paths(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted paths whose values differ between two specs."""
    paths: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            paths += spec_paths(a, b, f"{prefix}{key}.")
        else:
            paths.append(f"{prefix}{key}")
    return paths


def shown_image(value: Any, spec: dict[str, Any] | None) -> Any:
    """A task definition's image as the user wrote it (`repo:v2 (sha256:ab12…)`) when it is what `spec`
    pins; any other value (drift, an image from before pinning) is shown as AWS has it."""
    if not isinstance(value, str) or not spec or "image" not in spec:
        return value
    if value != ecr.pinned(spec["image"], spec.get("image_digest")):
        return value
    parsed = ecr.parse_ecr_image(spec["image"])
    written = parsed.reference if parsed else str(spec["image"])
    digest = spec.get("image_digest")
    return f"{written} ({digest[:19]}…)" if digest else written


@dataclass
class Planner:
    """Plans the objects of one batch, in `KIND_ORDER`, remembering what it found for each so an object
    can say that what it depends on changes too."""

    plan: Callable[[StoredObject], list[Change]]
    lookup: Lookup
    aws: Gateway | None = None
    force: bool = False
    actions: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, name) -> action

    def object(self, kind: str, name: str, env: str | None, spec: dict[str, Any]) -> dict[str, Any]:
        """What applying `spec` to this object would do: `{kind, name, env, action, changes, message}`."""
        stored = self.lookup(kind, env, name)
        proposed = (
            replace(stored, spec=spec)
            if stored is not None
            else StoredObject(
                kind=kind, name=name, env=env, spec=spec, generation=0, created_at="", updated_at=""
            )
        )
        out: dict[str, Any] = {"kind": kind, "name": name, "env": env, "changes": [], "message": None}
        out.update(self._planned(stored, proposed))
        self.actions[(kind, name)] = out["action"]
        notes = [n for n in (out["message"], self._image_problem(spec)) if n]
        out["message"] = "; ".join(notes) or None
        return out

    def _planned(self, stored: StoredObject | None, proposed: StoredObject) -> dict[str, Any]:
        verb = "created" if stored is None else "updated"
        blocker = self._new_dependency(proposed)
        if blocker:
            return {"action": "waiting", "message": f"would be {verb} once {blocker} is ready"}
        try:
            changes = self.plan(proposed)
        except TemporaryError as e:
            return {"action": "waiting", "message": f"would be {verb}; not comparable yet: {e.message}"}
        except PermanentError as e:
            return {"action": "blocked", "message": f"would fail: {e.message}"}
        action, message = self._action(stored, proposed.spec, changes, proposed.env)
        shown = [self._shown(c, stored, proposed.spec) for c in changes]
        return {"action": action, "changes": shown, "message": message}

    def _new_dependency(self, obj: StoredObject) -> str | None:
        """The environment or domain this object needs that exists only in this batch (the batch was
        checked like an apply's: what is not stored is in it), whose outputs no plan can know yet."""
        if obj.kind == "Application":
            needed = ("Environment", obj.env or "")
        elif obj.kind == "Environment" and obj.spec.get("domain"):
            needed = ("Domain", str(obj.spec["domain"]))
        else:
            return None
        found = self.lookup(needed[0], None, needed[1])
        if found is not None and not found.deleting:
            return None
        return f"{needed[0].lower()} {needed[1]}"

    def _action(
        self, stored: StoredObject | None, spec: dict[str, Any], changes: list[Change], env: str | None
    ) -> tuple[str, str | None]:
        if stored is None:
            return "create", None
        notes = []
        if stored.kind == "Application" and self.actions.get(("Environment", env or "")) == "update":
            notes.append(f"environment {env} changes in this batch too; compared with its current state")
        if changes:
            return "update", "; ".join(notes) or None
        paths = spec_paths(stored.spec, spec)
        if paths:
            notes.insert(0, f"no AWS resource would change; the spec would ({', '.join(paths)})")
        elif stored.deleting:
            notes.insert(0, "its deletion would be cancelled")
        elif stored.phase == "failed":
            notes.insert(0, "its last reconciliation failed; applying again retries it")
        elif self.force:
            notes.insert(0, "nothing differs, but --force opens a record (for an application, a new rollout)")
        else:
            return "unchanged", "; ".join(notes) or None
        return "update", "; ".join(notes)

    @staticmethod
    def _shown(change: Change, stored: StoredObject | None, spec: dict[str, Any]) -> dict[str, Any]:
        image = change.resource.startswith("task-definition")
        before = stored.spec if stored else None
        fields = [
            {"path": path, "old": shown_image(old, before), "new": shown_image(new, spec)}
            if image and path == "image"
            else {"path": path, "old": old, "new": new}
            for path, (old, new) in change.fields.items()
        ]
        return {"resource": change.resource, "action": change.action, "fields": fields}

    def _image_problem(self, spec: dict[str, Any]) -> str | None:
        """Why the deployment would fail its pre-flight: the image cannot be found in this account's ECR
        (an image that resolved carries its digest, so only those without one are looked up again)."""
        if "image" not in spec or "image_digest" in spec or self.aws is None:
            return None
        try:
            found = ecr.resolve(self.aws, spec["image"])
        except CloudfaujError:  # AWS unreachable: apply would deploy the tag as written
            return None
        return f"the deployment would fail: {found.problem}" if found.problem else None
