"""What reading the YAML of one apply may cost, enforced while it is read (README "Limits on input").

ruamel.yaml is pure Python: tens of microseconds a token, and quadratic in the nesting of `[`/`{` (its
scanner keeps one possible key per open bracket and looks at all of them at every token), so 10 000
brackets take minutes. And an alias is a reference: nine anchors of ten aliases each ("billion laughs")
compose in a moment and expand to 10^9 values. So the scanner, the composer and the loader stop at
these bounds, far above any manifest and far below what would keep the server busy for long:

    depth       32 levels of mappings and lists            (a manifest has five)
    aliases     100 `*alias` uses per file; 10 000 values per document once expanded
    tokens      50 000 per apply (keys, values, punctuation: ~70 for an application)
    documents   500 per apply
    numbers     100 digits
    characters  1 MiB per file (the API's body limit is 1 MiB too)
    tags        only YAML's core tags: `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq`;
                never `!!python/...`, `!!binary`, `!!set`, `!!timestamp` or a custom `!tag`

A bound passed is raised as `LimitExceeded` (a ruamel `MarkedYAMLError`, so it carries the line) and
reported by the loader like any other reason a file cannot be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.main import YAML
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.scanner import RoundTripScanner

__all__ = [
    "MAX_ALIASES",
    "MAX_CHARS",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_DOCUMENTS",
    "MAX_TOKENS",
    "MAX_VALUES",
    "Budget",
    "LimitExceeded",
    "bounded_yaml",
    "expanded_size",
]

MAX_DEPTH = 32
MAX_ALIASES = 100
MAX_VALUES = 10_000
MAX_TOKENS = 50_000
MAX_DOCUMENTS = 500
MAX_DIGITS = 100
MAX_CHARS = 1 << 20

_CORE = "tag:yaml.org,2002:"
_NUMBERS = frozenset({_CORE + "int", _CORE + "float"})
_ALLOWED_TAGS = frozenset({"!", *(_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq"))})


class LimitExceeded(MarkedYAMLError):
    """The file is over one of the bounds above; `problem` says which, `problem_mark` where."""


@dataclass
class Budget:
    """What is left for the rest of one apply: tokens and documents are counted across its files."""

    tokens: int = MAX_TOKENS
    documents: int = MAX_DOCUMENTS

    @property
    def spent(self) -> bool:
        return self.tokens < 0 or self.documents < 0


class _Yaml(YAML):
    budget: Budget


class _Scanner(RoundTripScanner):
    """Counts tokens against the budget and refuses deep nesting before the scanner's cost explodes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counted = 0

    def fetch_more_tokens(self) -> Any:
        result = super().fetch_more_tokens()
        produced = self.tokens_taken + len(self.tokens)
        budget: Budget = self.loader.budget
        budget.tokens -= produced - self._counted
        self._counted = produced
        if budget.tokens < 0:
            self._refuse(
                f"the files of this apply hold more than {MAX_TOKENS} YAML tokens; apply fewer at a time"
            )
        if self.flow_level + len(self.indents) > MAX_DEPTH:
            self._refuse(f"its values are nested more than {MAX_DEPTH} levels deep (a manifest needs five)")
        return result

    def _refuse(self, problem: str) -> None:
        raise LimitExceeded(problem=problem, problem_mark=self.reader.get_mark())


class _Composer(Composer):
    """Refuses tags beyond YAML's core schema and counts aliases, before anything is constructed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise LimitExceeded(
                    problem=f"it uses more than {MAX_ALIASES} aliases ('*name')",
                    problem_mark=event.start_mark,
                )
        elif getattr(event, "tag", None) is not None and event.tag not in _ALLOWED_TAGS:
            tag = "!!" + event.tag.removeprefix(_CORE) if event.tag.startswith(_CORE) else event.tag
            raise LimitExceeded(
                problem=f"the tag '{tag}' is not allowed: manifests are plain YAML (only the core tags "
                "!!str, !!int, !!float, !!bool, !!null, !!map and !!seq may be written)",
                problem_mark=event.start_mark,
            )
        node = super().compose_node(parent, index)
        if isinstance(node, ScalarNode) and str(node.tag) in _NUMBERS and len(node.value) > MAX_DIGITS:
            # Python would refuse to convert past 4300 digits anyway, with a message about its settings.
            raise LimitExceeded(
                problem=f"a number has {len(node.value)} characters; no field takes more than {MAX_DIGITS}",
                problem_mark=node.start_mark,
            )
        return node


def bounded_yaml(budget: Budget) -> YAML:
    """A round-trip loader (line numbers; YAML 1.2, so `on`/`yes` stay strings) with the bounds above."""
    yaml = _Yaml(typ="rt")
    yaml.budget = budget
    yaml.Scanner = _Scanner
    yaml.Composer = _Composer
    yaml.allow_duplicate_keys = False
    return yaml


def expanded_size(tree: Any, limit: int = MAX_VALUES) -> int:
    """How many values `tree` holds with every alias expanded, counting up to just past `limit`.

    Linear in the distinct nodes: an alias is a shared node, so its size is counted once and reused.
    An alias that contains itself counts once (`to_plain` cuts it there)."""
    sizes: dict[int, int] = {}

    def size(node: Any, open_: frozenset[int]) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            return 1
        inner = open_ | {key}
        if isinstance(node, dict):
            children = [c for pair in node.items() for c in pair]
        elif isinstance(node, list | tuple):
            children = list(node)
        else:
            return 1
        total = 1
        for child in children:
            total += size(child, inner)
            if total > limit:
                break
        sizes[key] = total
        return total

    return size(tree, frozenset())
