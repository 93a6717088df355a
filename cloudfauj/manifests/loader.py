"""Reading manifest files: YAML (and so JSON) documents, where each field is, and plain values.

The first step of `parse_sources()`. ruamel.yaml's round-trip loader keeps the position of every key
(`.lc`), which is how a problem found later by pydantic gets a line number. Any YAML the file cannot be
read as becomes a `Problem` here; nothing from ruamel escapes. The loader is bounded (`limits.py`): depth,
aliases, tokens, documents and size, and no tag but YAML's core ones is ever constructed.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError, YAMLFutureWarning, YAMLWarning
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import implicit_resolvers
from ruamel.yaml.scalarbool import ScalarBoolean

from cloudfauj.errors import Problem
from cloudfauj.manifests.limits import (
    MAX_CHARS,
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_DOCUMENTS,
    MAX_VALUES,
    Budget,
    LimitExceeded,
    bounded_yaml,
    expanded_size,
)

__all__ = ["RawDocument", "Source", "line_at", "read_documents", "read_documents_quickly", "to_plain"]

# What reading untrusted YAML can raise. With warnings turned into errors (as in our tests), ruamel's
# warnings (e.g. a reused anchor) are raised. ruamel's constructors let builtin errors through for an
# explicitly typed scalar they cannot convert (`!!int foo`, `!!bool foo`, an int of 5000 digits), so
# those are named too; this is the only place that calls the constructors.
_CONSTRUCTOR_FAILURES = (ValueError, KeyError, TypeError, OverflowError)
_YAML_FAILURES = (YAMLError, YAMLWarning, YAMLFutureWarning, RecursionError, *_CONSTRUCTOR_FAILURES)


@dataclass(frozen=True)
class Source:
    """A file's display name (as the user named it) and its content."""

    name: str
    text: str


@dataclass(frozen=True)
class RawDocument:
    """One non-empty YAML document of a file, as loaded (a CommentedMap when it is a manifest)."""

    file: str
    index: int  # 1-based, counting empty documents too, so it matches what a reader counts
    tree: Any
    line: int | None  # 1-based line where its content starts


def read_documents(source: Source, budget: Budget | None = None) -> tuple[list[RawDocument], list[Problem]]:
    """The non-empty documents of a file, and the problem that stopped reading it (if any).

    `budget` is what is left of the bounds of the apply this file is part of; a file alone gets its own.
    """
    budget = budget if budget is not None else Budget()
    if len(source.text) > MAX_CHARS:
        message = f"the file has {len(source.text)} characters; at most {MAX_CHARS} (1 MiB) are read"
        return [], [Problem(message, file=source.name)]
    documents: list[RawDocument] = []
    index = 0
    try:
        for index, tree in enumerate(bounded_yaml(budget).load_all(source.text), start=1):
            budget.documents -= 1
            if budget.documents < 0:
                message = (
                    f"the files of this apply hold more than {MAX_DOCUMENTS} documents; apply fewer at a time"
                )
                return documents, [Problem(message, file=source.name, document=index)]
            if tree is None:
                continue
            document = RawDocument(source.name, index, tree, _start_line(tree))
            if expanded_size(tree) > MAX_VALUES:
                return documents, [_too_many_values(document)]
            documents.append(document)
    except _YAML_FAILURES as e:
        return documents, [_yaml_problem(source, index + 1, e)]
    if not documents:
        return [], [Problem("the file contains no manifest documents", file=source.name)]
    return _with_scalar_lines(source, documents), []


# Text the C parser may read: nothing the bounds above exist for can be in it (no anchor, alias, tag or
# directive; shallow; short), and nothing where libyaml and ruamel might read differently (tabs, non-ASCII).
_QUICK_MAX_CHARS = 64 << 10
_QUICK_MAX_INDENT = 64
_QUICK_MAX_BRACKETS = MAX_DEPTH
_QUICK_REFUSED = re.compile(rf"[&*!%\t]|\d{{{MAX_DIGITS + 1}}}|^\s*-\s+-", re.MULTILINE)
_QUICK_INDENT = re.compile(rf"^ {{{_QUICK_MAX_INDENT + 1}}}", re.MULTILINE)


def read_documents_quickly(source: Source, budget: Budget) -> list[RawDocument] | None:
    """The documents of a plain, well-formed file, read by libyaml (about ten times faster), as plain
    dicts without positions; None when the file is not plainly fine, for `read_documents` to read it
    and say exactly what is wrong where. Same YAML 1.2 rules, so the same values."""
    text = source.text
    if (
        _Nodes is None
        or len(text) > _QUICK_MAX_CHARS
        or not text.isascii()
        or text.count("[") + text.count("{") > _QUICK_MAX_BRACKETS
        or _QUICK_REFUSED.search(text)
        or _QUICK_INDENT.search(text)
    ):
        return None
    trees: list[Any] = []
    try:
        nodes = _Nodes(text)
        try:
            while nodes.check_node():
                trees.append(_node_value(nodes.get_node(), [MAX_VALUES]))
        finally:
            nodes.dispose()
    except (Exception, RecursionError):  # whatever it is, the exact reader reports it
        return None
    budget.documents -= len(trees)
    if budget.documents < 0:
        return None
    documents = [RawDocument(source.name, i, t, None) for i, t in enumerate(trees, start=1) if t is not None]
    if not documents or any(not isinstance(d.tree, dict) for d in documents):
        return None
    return documents


class _NotPlain(Exception):
    """Something only the exact reader should judge (a merge key, a timestamp, a duplicate key, …)."""


_STR, _SEQ, _MAP = (f"tag:yaml.org,2002:{t}" for t in ("str", "seq", "map"))


def _yaml_int(text: str) -> int:
    """A YAML 1.2 integer as ruamel's constructor reads it (underscores; 0b, 0o, 0x)."""
    digits = text.replace("_", "")
    sign = -1 if digits[0] == "-" else 1
    digits = digits.lstrip("+-")
    for prefix, base in (("0b", 2), ("0o", 8), ("0x", 16)):
        if digits.startswith(prefix):
            return sign * int(digits[2:], base)
    return sign * int(digits)


def _yaml_float(text: str) -> float:
    """A YAML 1.2 float as ruamel's constructor reads it (underscores; .inf, .nan in any case)."""
    digits = text.replace("_", "").lower()
    sign = -1 if digits[0] == "-" else 1
    digits = digits.lstrip("+-")
    if digits == ".nan":
        return float("nan")
    return sign * (float("inf") if digits == ".inf" else float(digits))


_SCALARS: dict[str, Any] = {
    "tag:yaml.org,2002:null": lambda _: None,
    "tag:yaml.org,2002:bool": lambda text: text.lower() == "true",
    "tag:yaml.org,2002:int": _yaml_int,
    "tag:yaml.org,2002:float": _yaml_float,
}


def _node_value(node: Any, left: list[int]) -> Any:
    """A composed node as plain values; `left` counts down the values its document may still hold."""
    left[0] -= 1
    if left[0] < 0:
        raise _NotPlain("too many values")
    if isinstance(node, ScalarNode):
        tag = node.ctag.suffix  # the tag `_Nodes.resolve` gave, as it gave it (`.tag` decodes it each time)
        if tag == _STR:
            return node.value
        construct = _SCALARS.get(tag)
        if construct is None:
            raise _NotPlain(tag)
        return construct(node.value)
    if isinstance(node, SequenceNode):
        return [_node_value(item, left) for item in node.value]
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = _node_value(key_node, left)
        if not isinstance(key, str) or key in mapping:  # the exact reader names such a key's line
            raise _NotPlain("a key that is not a string, or a duplicate one")
        mapping[key] = _node_value(value_node, left)
    return mapping


def _yaml12_table() -> dict[str | None, list[tuple[str, Any]]]:
    """ruamel's implicit resolvers of YAML 1.2, by a scalar's first character, in ruamel's order."""
    table: dict[str | None, list[tuple[str, Any]]] = {}
    for versions, tag, regexp, first in implicit_resolvers:
        if (1, 2) in versions:
            for character in first or [None]:  # type: ignore[list-item]
                table.setdefault(character, []).append((tag, regexp))
    return table


_CParser: Any = None
with contextlib.suppress(ImportError):  # ruamel.yaml.clib: libyaml's parser and composer
    _CParser = importlib.import_module("ruamel.yaml.cyaml").CParser

_Nodes: Any = None
if _CParser is not None:

    class _Nodes(_CParser):  # type: ignore[misc,no-redef]
        """libyaml composes the nodes; a plain scalar's tag comes from YAML 1.2's table, built once
        (ruamel's resolver builds it for every load and works the version out for every scalar)."""

        _TABLE = _yaml12_table()
        _DEFAULT = {ScalarNode: _STR, SequenceNode: _SEQ, MappingNode: _MAP}

        def resolve(self, kind: Any, value: str | None, implicit: Any) -> str:
            if kind is ScalarNode and implicit[0]:
                for tag, regexp in self._TABLE.get(value[:1] if value else "", ()):
                    if regexp.match(value):
                        return str(tag)
            return str(self._DEFAULT[kind])

        def descend_resolver(self, *_: Any) -> None:
            pass

        def ascend_resolver(self, *_: Any) -> None:
            pass


def _start_line(tree: Any) -> int | None:
    return int(tree.lc.line) + 1 if isinstance(tree, CommentedMap | CommentedSeq) else None


def _too_many_values(document: RawDocument) -> Problem:
    message = (
        f"the document expands to more than {MAX_VALUES} values through its aliases ('*name'); "
        "a manifest has a few dozen"
    )
    return Problem(message, file=document.file, document=document.index, line=document.line)


def _with_scalar_lines(source: Source, documents: list[RawDocument]) -> list[RawDocument]:
    """A scalar document keeps no position (it is an error, and rare): compose the file once more for the
    lines of all of them, rather than once for each."""
    wanted = {d.index for d in documents if d.line is None}
    if not wanted:
        return documents
    lines: dict[int, int] = {}
    try:
        for number, node in enumerate(bounded_yaml(Budget()).compose_all(source.text), start=1):
            if number in wanted:
                lines[number] = int(node.start_mark.line) + 1
    except _YAML_FAILURES:
        return documents
    return [replace(d, line=lines.get(d.index, d.line)) for d in documents]


def _yaml_problem(source: Source, index: int, error: BaseException) -> Problem:
    line: int | None = None
    if isinstance(error, LimitExceeded):
        line = error.problem_mark.line + 1 if error.problem_mark is not None else None
        message = f"the file is not accepted: {error.problem}"
    elif isinstance(error, MarkedYAMLError):
        line = error.problem_mark.line + 1 if error.problem_mark is not None else None
        context = ""
        if error.context and error.context_mark is not None:
            context = f" ({error.context} on line {error.context_mark.line + 1})"
        message = f"the file is not valid YAML: {error.problem}{context}"
    elif isinstance(error, ReaderError):
        line = source.text.count("\n", 0, error.position) + 1
        char = error.character
        shown = f"#x{char:04x}" if isinstance(char, int) else repr(char)
        message = f"the file is not valid YAML: character {shown} is not allowed ({error.reason})"
    elif isinstance(error, RecursionError):
        message = "the file is not usable YAML: its values are nested too deeply"
    elif isinstance(error, _CONSTRUCTOR_FAILURES):
        message = f"the file is not usable YAML: a value cannot be read as its YAML type ({error})"
    else:
        message = f"the file is not usable YAML: {_first_line(str(error))}"
    return Problem(message, file=source.name, document=index, line=line)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "unreadable input")


def to_plain(tree: Any) -> Any:
    """Plain dicts, lists, str, int, float, bool and None from ruamel's round-trip types.

    Keys become strings (a non-string key can only be an unknown key). The loader refuses tags other than
    YAML's core ones; a tagged scalar that is left is its value. An alias that contains itself is cut, so
    that validation sees a wrong value instead of recursing forever.
    """
    return _plain(tree, ())


def _plain(value: Any, path: tuple[int, ...]) -> Any:
    if id(value) in path:
        return "<recursive alias>"
    inner = (*path, id(value))
    if isinstance(value, dict):
        return {str(k): _plain(v, inner) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, inner) for v in value]
    if isinstance(value, TaggedScalar):
        return value.value
    if isinstance(value, ScalarBoolean):  # an int subclass: test it first
        return bool(value)
    if isinstance(value, bool | date) or value is None:
        return value
    for plain in (str, int, float):  # ruamel's ScalarString, ScalarInt and ScalarFloat subclasses
        if isinstance(value, plain):
            return plain(value)
    return value


def line_at(tree: Any, path: Sequence[str | int], default: int | None) -> int | None:
    """The 1-based line of the deepest key of `path` present in `tree` (`default` when none is)."""
    line = default
    for key, node in _walk(tree, path):
        line = int(node.lc.key(key)[0] if isinstance(node, CommentedMap) else node.lc.item(key)[0]) + 1
    return line


def _walk(tree: Any, path: Sequence[str | int]) -> Iterator[tuple[Any, Any]]:
    node = tree
    for part in path:
        if isinstance(node, CommentedMap):
            key = next((k for k in node if str(k) == str(part)), _MISSING)
            if key is _MISSING:
                return
        elif isinstance(node, CommentedSeq) and str(part).isdigit() and int(part) < len(node):
            key = int(part)
        else:
            return
        yield key, node
        node = node[key]


_MISSING = object()
