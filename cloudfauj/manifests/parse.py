"""`parse_sources()`: files in, validated manifests out, or every problem at once.

The flow: read each file's YAML documents (loader) → put each in canonical form (formats) → validate it
(`Manifest`, problems) → check the batch as a whole (duplicates, AWS name collisions). A batch is all or
nothing: one problem anywhere and `InvalidInput` lists them all, so a user fixes a file in one pass.
Checks that need stored state (does the environment exist?) are the server's; it reports them through
`ParsedDocument.problem()` so they read like these.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from cloudfauj.errors import InvalidInput, Problem
from cloudfauj.manifests.formats import Canonical, Locator, canonicalize
from cloudfauj.manifests.limits import Budget
from cloudfauj.manifests.loader import Source, read_documents, read_documents_quickly
from cloudfauj.manifests.models import ApplicationSpec, Manifest
from cloudfauj.manifests.names import app_collision_key, env_collision_key
from cloudfauj.manifests.problems import problems_from
from cloudfauj.manifests.references import parse_reference

__all__ = ["MAX_PROBLEMS", "ParsedDocument", "describe", "parse_sources", "workload_problems"]

MAX_PROBLEMS = 50


@dataclass
class ParsedDocument:
    """A valid manifest and where it came from."""

    manifest: Manifest
    file: str
    document: int  # 1-based index of the document in its file
    locator: Locator | None = field(default=None, repr=False, compare=False)
    # Read quickly, without positions: finds the locator by reading the file exactly, when one is needed.
    relocate: Callable[[], Locator | None] | None = field(default=None, repr=False, compare=False)

    def _located(self) -> Locator | None:
        if self.locator is None and self.relocate is not None:
            self.locator, self.relocate = self.relocate(), None
        return self.locator

    def line_of(self, field: str) -> int | None:
        """The 1-based line of a canonical dotted field ("metadata.env", "spec.image").

        In an upstream file the upstream key is looked up ("spec.resources.cpu" → `resources.cpu`); a
        value that came from a flag (--env, --image) is at the document's first line.
        """
        locator = self._located()
        return locator.line_of(field) if locator else None

    def problem(self, field: str, message: str) -> Problem:
        """A problem located at a canonical field of this document, e.g. for a check against stored
        state: `doc.problem("metadata.env", "environment 'x' does not exist")`."""
        locator = self._located()
        if locator is None:
            return Problem(message, file=self.file, document=self.document, field=field)
        return locator.problem(field, message)


def parse_sources(
    sources: list[Source],
    *,
    env: str | None = None,
    image: str | None = None,
    variables: dict[str, str] | None = None,
) -> list[ParsedDocument]:
    """Parse and validate every document of every source; raise InvalidInput listing ALL problems found.

    `env` and `image` are the --env and --image flags: an upstream `.cloudfauj.yml` names neither, and
    in kind-based Applications `env` fills a missing `metadata.env` and `image` overrides `spec.image`.
    `variables` (--var) are set in every Application's `variables`, over the file's of the same name.
    """
    quick = _parse_quickly(sources, env=env, image=image, variables=variables)
    if quick is not None:
        return quick
    parsed: list[ParsedDocument] = []
    problems: list[Problem] = []
    budget = Budget()  # the bounds of reading are the batch's, not each file's (limits.py)
    for source in sources:
        if budget.spent:
            break  # the problem that spent it is reported; every further file would only repeat it
        documents, unreadable = read_documents(source, budget)
        problems.extend(unreadable)
        for raw in documents:
            canonical = canonicalize(raw, env=env, image=image, variables=variables)
            if isinstance(canonical, Problem):
                problems.append(canonical)
                continue
            problems.extend(canonical.problems)
            manifest = _validate(canonical, problems)
            if manifest is not None:
                parsed.append(ParsedDocument(manifest, source.name, raw.index, canonical.locator))
    problems.extend(batch_problems(parsed))
    if len(problems) > MAX_PROBLEMS:  # a batch of 500 copies of one mistake is fixed by reading a few
        unlisted = len(problems) - MAX_PROBLEMS
        problems = [
            *problems[:MAX_PROBLEMS],
            Problem(f"{unlisted} more problems are not listed; fix these first"),
        ]
    if problems:
        raise InvalidInput(problems)
    return parsed


def _parse_quickly(
    sources: list[Source],
    *,
    env: str | None,
    image: str | None,
    variables: dict[str, str] | None = None,
) -> list[ParsedDocument] | None:
    """The common case, a batch of plain and valid files, about five times faster: read with libyaml,
    without positions (`read_documents_quickly`). None at the first sign of a problem: then the batch is
    read again exactly, and every problem is reported with its line."""
    parsed: list[ParsedDocument] = []
    budget = Budget()
    for source in sources:
        documents = read_documents_quickly(source, budget)
        if documents is None:
            return None
        for raw in documents:
            canonical = canonicalize(raw, env=env, image=image, variables=variables)
            if isinstance(canonical, Problem) or canonical.problems:
                return None
            try:
                manifest = Manifest.model_validate(canonical.data)
            except ValidationError:
                return None
            relocate = functools.partial(
                _locate, source, raw.index, env=env, image=image, variables=variables
            )
            parsed.append(ParsedDocument(manifest, source.name, raw.index, relocate=relocate))
    return None if batch_problems(parsed) else parsed


def _locate(
    source: Source, index: int, *, env: str | None, image: str | None, variables: dict[str, str] | None
) -> Locator | None:
    documents, _ = read_documents(source)
    raw = next((d for d in documents if d.index == index), None)
    canonical = canonicalize(raw, env=env, image=image, variables=variables) if raw is not None else None
    return canonical.locator if isinstance(canonical, Canonical) else None


def _validate(canonical: Canonical, problems: list[Problem]) -> Manifest | None:
    try:
        return Manifest.model_validate(canonical.data)
    except ValidationError as e:
        problems.extend(problems_from(e, canonical.locator, canonical.kind))
        return None


def batch_problems(documents: list[ParsedDocument]) -> list[Problem]:
    """Objects defined twice, and objects whose AWS names would collide, within one batch."""
    problems: list[Problem] = []
    by_key: dict[tuple[str, str, str], ParsedDocument] = {}
    by_aws_name: dict[tuple[str, str], ParsedDocument] = {}
    for doc in documents:
        manifest = doc.manifest
        first = by_key.setdefault(manifest.key, doc)
        if first is not doc:
            message = f"{describe(manifest)} is defined twice: also in {_where(first)}"
            problems.append(doc.problem("metadata.name", message))
            continue
        aws_name = _aws_name(manifest)
        if aws_name is None:
            continue
        other = by_aws_name.setdefault((manifest.kind, aws_name), doc)
        if other is not doc:
            problems.append(doc.problem("metadata.name", _collision(manifest, other, aws_name)))
    return problems


def describe(manifest: Manifest) -> str:
    """The object in words: "Application 'web' in environment 'demo'"."""
    where = f" in environment '{manifest.metadata.env}'" if manifest.metadata.env else ""
    return f"{manifest.kind} '{manifest.metadata.name}'{where}"


def _aws_name(manifest: Manifest) -> str | None:
    if manifest.kind == "Environment":
        return env_collision_key(manifest.metadata.name)
    if manifest.kind == "Application" and manifest.metadata.env:
        return app_collision_key(manifest.metadata.env, manifest.metadata.name)
    return None  # domains are DNS names: equal only when identical


def _collision(manifest: Manifest, other: ParsedDocument, aws_name: str) -> str:
    if manifest.metadata.env == other.manifest.metadata.env:
        why = "names that differ only by '_' and '-' are the same in AWS names"
    else:
        why = "AWS names join the environment and application names with '-' (and turn '_' into '-')"
    return (
        f"{describe(manifest)} would get the same AWS names ('{aws_name}') as "
        f"{describe(other.manifest)} in {_where(other)}, because {why}: rename one of them"
    )


def _where(doc: ParsedDocument) -> str:
    line = doc.line_of("metadata.name")
    return ", ".join(
        part for part in (doc.file, f"document {doc.document}", f"line {line}" if line else "") if part
    )


def workload_problems(doc: ParsedDocument, *, region: str | None, env_domain: str | None) -> list[Problem]:
    """An application's checks that need the server: its secrets are in the server's region (ECS reads
    a task's secrets in the task's region only), and scaling on requests has a load balancer to count
    them (an environment without a domain has none)."""
    spec = doc.manifest.spec
    if not isinstance(spec, ApplicationSpec):
        return []
    problems: list[Problem] = []
    for name, value in spec.secrets.items():
        ref = parse_reference(value)
        if ref is not None and region and ref.region is not None and ref.region != region:
            message = (
                f"is in region '{ref.region}' but this server deploys to '{region}': ECS reads a task's "
                "secrets in its own region; copy the secret there"
            )
            problems.append(doc.problem(f"spec.secrets.{name}", message))
    scaling = spec.autoscaling
    if scaling is not None and scaling.requests_per_target is not None and not env_domain:
        message = (
            f"needs a load balancer, and environment '{doc.manifest.metadata.env}' has none (it has no "
            "domain): scale on cpu_target or memory_target"
        )
        problems.append(doc.problem("spec.autoscaling.requests_per_target", message))
    return problems
