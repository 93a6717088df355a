"""The two input formats, turned into one canonical form, and where each canonical field is in the file.

Upstream files (`.cloudfauj.yml`, environment and domain files) are flat and name no kind: the kind is
recognised from their keys, and an application's environment and image come from `--env`/`--image`.
Kind-based documents (`apiVersion`, `kind`, `metadata`, `spec`) are already canonical; there `--env`
fills a missing `metadata.env` and `--image` overrides `spec.image`.

A `Locator` remembers the format, so that a problem found on a canonical field ("spec.resources.cpu")
is reported as the user wrote it ("resources.cpu" in an upstream file, "--env" for a flag's value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from cloudfauj.errors import Problem
from cloudfauj.manifests.loader import RawDocument, line_at, to_plain
from cloudfauj.manifests.models import API_VERSION
from cloudfauj.manifests.names import shown

__all__ = ["FLAGS", "KIND_KEYS", "UPSTREAM_KEYS", "Canonical", "Locator", "canonicalize", "quoted"]

KIND_KEYS = ("apiVersion", "kind", "metadata", "spec")
#: The keys that identify each kind in an upstream file (besides `name`, which every kind has).
UPSTREAM_KEYS: dict[str, tuple[str, ...]] = {
    "Domain": ("dns_service", "cert_authority"),
    "Environment": ("network", "orchestrator", "domain", "load_balancer"),
    "Application": (
        "type",
        "visibility",
        "resources",
        "healthcheck",
        "replicas",
        "variables",
        "secrets",
        "task_role",
        "command",
        "entrypoint",
        "stop_timeout",
        "platform",
        "autoscaling",
    ),
}
#: Canonical fields that a flag can supply.
FLAGS = {"metadata.env": "--env", "spec.image": "--image"}


@dataclass(frozen=True)
class Locator:
    """Maps a canonical field path of one document to the field and line the user should look at."""

    file: str
    document: int
    tree: Any
    start_line: int | None
    upstream: bool = False
    from_flags: frozenset[str] = frozenset()

    def display(self, field: str) -> str | None:
        """The field as the user wrote it (None for a whole upstream document)."""
        if field in FLAGS and (self.upstream or field in self.from_flags):
            return FLAGS[field]
        if not self.upstream:
            return field or None
        head, _, rest = field.partition(".")
        if head in ("spec", "metadata") and rest:
            return rest
        return None  # apiVersion, kind, metadata or spec as a whole: the upstream document itself

    def line_of(self, field: str) -> int | None:
        shown = self.display(field)
        if shown is None or shown.startswith("--"):
            return self.start_line  # a flag's value, or the document as a whole
        return line_at(self.tree, shown.split("."), self.start_line)

    def problem(self, field: str | None, message: str) -> Problem:
        """A problem at a canonical field (None: the document as a whole)."""
        shown = self.display(field) if field is not None else None
        line = self.line_of(field) if field is not None else self.start_line
        return Problem(message, file=self.file, document=self.document, line=line, field=_printable(shown))

    def problem_at_key(self, key: str, message: str) -> Problem:
        """A problem at a key path of the file itself, which has no canonical field."""
        line = line_at(self.tree, key.split("."), self.start_line)
        return Problem(message, file=self.file, document=self.document, line=line, field=_printable(key))


def _printable(field: str | None) -> str | None:
    # A field path holds the user's keys; a lone surrogate ("\ud800" in YAML) cannot be sent as UTF-8.
    return field.encode("utf-8", "backslashreplace").decode("utf-8") if field is not None else None


@dataclass
class Canonical:
    """A document in canonical form, ready for `Manifest.model_validate()`."""

    data: dict[str, Any]
    locator: Locator
    kind: str | None  # as written (possibly unknown), to explain unknown keys
    problems: list[Problem] = field(default_factory=list)  # found while converting


def canonicalize(
    doc: RawDocument, *, env: str | None, image: str | None, variables: dict[str, str] | None = None
) -> Canonical | Problem:
    """The canonical form of one document, or the problem that prevents reading it as a manifest."""
    canonical = _canonicalize(doc, env=env, image=image)
    if variables and isinstance(canonical, Canonical) and canonical.kind == "Application":
        _set_variables(canonical, variables)
    return canonical


def _set_variables(canonical: Canonical, variables: dict[str, str]) -> None:
    """--var KEY=VALUE: CI sets what only it knows (a version, a build URL) without editing the file."""
    spec = canonical.data.get("spec")
    if not isinstance(spec, dict):
        return
    written = spec.get("variables")
    if written is None:
        spec["variables"] = dict(variables)
    elif isinstance(written, dict):  # anything else is reported as the file wrote it
        spec["variables"] = {**written, **variables}


def _canonicalize(doc: RawDocument, *, env: str | None, image: str | None) -> Canonical | Problem:
    locator = Locator(doc.file, doc.index, doc.tree, doc.line)
    data = to_plain(doc.tree)
    if not isinstance(data, dict):
        return locator.problem(None, f"a manifest must be a mapping of keys to values, not {_shape(data)}")
    if any(key in data for key in KIND_KEYS):
        return _kind_based(data, locator, env=env, image=image)
    kinds = [kind for kind, keys in UPSTREAM_KEYS.items() if any(key in data for key in keys)]
    if len(kinds) != 1:
        return locator.problem(None, _unrecognised(data, kinds))
    return _upstream(data, kinds[0], locator, env=env, image=image)


def _kind_based(data: dict[str, Any], locator: Locator, *, env: str | None, image: str | None) -> Canonical:
    kind = data.get("kind")
    problems: list[Problem] = []
    if "apiVersion" not in data:
        problems.append(locator.problem("apiVersion", f"is required: use '{API_VERSION}'"))
    flagged: set[str] = set()
    metadata, spec = data.get("metadata"), data.get("spec")
    if kind == "Application" and env is not None and isinstance(metadata, dict):
        if metadata.get("env") is None:
            metadata["env"] = env
            flagged.add("metadata.env")
        elif metadata["env"] != env:
            message = f"is {shown(metadata['env'])} but --env is {shown(env)}: make them agree or drop --env"
            problems.append(locator.problem("metadata.env", message))
    if kind == "Application" and image is not None and isinstance(spec, dict):
        spec["image"] = image  # --image overrides the file: CI builds an image, then applies the repo
        flagged.add("spec.image")
    located = replace(locator, from_flags=frozenset(flagged))
    return Canonical(data, located, kind if isinstance(kind, str) else None, problems)


def _upstream(
    data: dict[str, Any], kind: str, locator: Locator, *, env: str | None, image: str | None
) -> Canonical:
    located = replace(locator, upstream=True)
    metadata = {"name": data["name"]} if "name" in data else {}
    spec = {key: value for key, value in data.items() if key != "name"}
    problems: list[Problem] = []
    if kind == "Application":
        if "image" in spec:
            del spec["image"]
            message = (
                "is not a key of upstream .cloudfauj.yml files: pass the image with --image, "
                "or write a kind-based manifest"
            )
            problems.append(located.problem_at_key("image", message))
        if env is not None:
            metadata["env"] = env
        if image is not None:
            spec["image"] = image
    canonical = {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}
    return Canonical(canonical, located, kind, problems)


def quoted(items: Sequence[str], last: str = "and") -> str:
    """'a', 'b' and 'c'."""
    shown = [f"'{item}'" for item in items]
    return f"{', '.join(shown[:-1])} {last} {shown[-1]}" if len(shown) > 1 else "".join(shown)


def _unrecognised(data: dict[str, Any], kinds: list[str]) -> str:
    identify = "; ".join(
        f"{quoted(keys, 'or')} for {'an' if kind[0] in 'AE' else 'a'} {kind}"
        for kind, keys in UPSTREAM_KEYS.items()
    )
    opening = "cannot tell which kind of manifest this is"
    if kinds:
        found = " and ".join(
            f"{kind} keys ({quoted([k for k in UPSTREAM_KEYS[kind] if k in data])})" for kind in kinds
        )
        opening += f": it has {found}"
    return f"{opening}; write 'apiVersion' and 'kind', or use the keys of one upstream format: {identify}"


def _shape(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {shown(value)}"
    return f"the value {shown(value)}"
