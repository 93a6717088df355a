"""Pydantic's validation errors, said as Cloudfauj problems: one located sentence each.

pydantic reports a location (`("spec", "resources", "cpu")`) and an error type; we turn the location
into the field and line the user wrote (through the document's `Locator`) and the type into a message
that says what is allowed: "must be an integer, not '12a'", "unknown key; did you mean 'healthcheck'?",
"only 'aws' is supported, not 'gcp'". The rules of `models.py` carry their own messages.
"""

from __future__ import annotations

import difflib
import re
import typing
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from cloudfauj.errors import Problem
from cloudfauj.manifests.formats import FLAGS, Locator, quoted
from cloudfauj.manifests.models import SPEC_BY_KIND, Manifest
from cloudfauj.manifests.names import shown
from cloudfauj.manifests.types import RULE_ERROR

__all__ = ["allowed_keys", "problems_from"]

_TYPE_NAMES = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "string_type": "a string",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "dict_type": "a mapping of keys to values",
}
_REQUIRED_FROM_FLAG = {
    "metadata.env": "the environment to deploy to",
    "spec.image": "the image to deploy",
}


def problems_from(error: ValidationError, locator: Locator, kind: str | None) -> list[Problem]:
    """One problem per pydantic error, located in the document that `locator` describes."""
    details = [(".".join(str(part) for part in d["loc"]), d) for d in error.errors(include_url=False)]
    # "unknown key 'bindport'; did you mean 'bind_port'?" already explains why bind_port is missing.
    suggested = {_suggestion(field, locator, kind) for field, d in details if d["type"] == "extra_forbidden"}
    return [
        locator.problem(field, _message(detail, field, locator, kind))
        for field, detail in details
        if not (detail["type"] == "missing" and field in suggested)
    ]


def _message(detail: ErrorDetails, field: str, locator: Locator, kind: str | None) -> str:
    kind_of_error, value, ctx = detail["type"], detail["input"], detail.get("ctx", {})
    if kind_of_error == RULE_ERROR:
        return str(ctx["message"])
    if kind_of_error == "missing":
        return _required(field, locator)
    if kind_of_error == "extra_forbidden":
        return _unknown_key(field, locator, kind)
    if kind_of_error in _TYPE_NAMES:
        hint = "; put it in quotes if it is text" if kind_of_error == "string_type" and _scalar(value) else ""
        return f"must be {_TYPE_NAMES[kind_of_error]}, {_got(value)}{hint}"
    if kind_of_error == "literal_error":
        expected = str(ctx["expected"])
        if " or " in expected:
            options = re.findall(r"'([^']*)'", expected)
            near = difflib.get_close_matches(value, options, n=1) if isinstance(value, str) else []
            hint = f"; did you mean '{near[0]}'?" if near else ""
            return f"must be one of {expected}, {_got(value)}{hint}"
        return f"only {expected} is supported, {_got(value)}"
    if kind_of_error == "greater_than_equal":
        return f"must be at least {ctx['ge']}, {_got(value)}"
    if kind_of_error == "less_than_equal":
        return f"must be at most {ctx['le']}, {_got(value)}"
    if kind_of_error == "recursion_loop":
        return "refers to itself through a YAML alias"
    message = detail["msg"]
    return message[:1].lower() + message[1:]


def _required(field: str, locator: Locator) -> str:
    what = _REQUIRED_FROM_FLAG.get(field)
    if what is None:
        return "is required"
    flag = FLAGS[field]
    if locator.upstream:
        return f"is required: upstream files do not name {what}, pass it with {flag}"
    return f"is required: set {what} here, or pass it with {flag}"


def allowed_keys(kind: str | None, parent: tuple[str, ...], *, upstream: bool = False) -> list[str]:
    """The keys a mapping at canonical path `parent` may have, for a document of `kind`."""
    model: type[BaseModel] | None = Manifest
    for part in parent:
        if model is Manifest and part == "spec":
            model = SPEC_BY_KIND.get(kind or "")
        elif model is not None and part in model.model_fields:
            model = _model_of(model.model_fields[part].annotation)
        else:
            model = None
        if model is None:
            return []
    keys = list(model.model_fields) if model is not None else []
    if upstream and parent == ("spec",):
        # An upstream file is the spec plus `name`; its image always comes from --image.
        return ["name", *(key for key in keys if key != "image" or kind != "Application")]
    return keys


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, also when it is optional (`Autoscaling | None`)."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _near(field: str, locator: Locator, kind: str | None) -> tuple[str | None, list[str]]:
    """The allowed key closest to an unknown one (if any is close), and all allowed keys."""
    *parent, key = field.split(".")
    keys = allowed_keys(kind, tuple(parent), upstream=locator.upstream)
    near = [k for k in keys if k.lower() == key.lower()] or difflib.get_close_matches(key, keys, n=1)
    return (near[0] if near else None), keys


def _suggestion(field: str, locator: Locator, kind: str | None) -> str | None:
    """The canonical field an unknown key was probably meant to be."""
    near, _ = _near(field, locator, kind)
    parent = field.rpartition(".")[0]
    if near == "name" and locator.upstream and parent == "spec":
        return "metadata.name"  # an upstream file's `name` is the canonical metadata.name
    return f"{parent}.{near}".lstrip(".") if near else None


def _unknown_key(field: str, locator: Locator, kind: str | None) -> str:
    near, keys = _near(field, locator, kind)
    if near:
        return f"unknown key; did you mean '{near}'?"
    if not keys:
        return "unknown key"
    return f"unknown key; the keys allowed here are {quoted(keys)}"


def _scalar(value: Any) -> bool:
    return isinstance(value, bool | float | date)


def _got(value: Any) -> str:
    if value is None:
        return "but it is empty"
    if isinstance(value, bool):
        return f"not the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"not the number {value}"
    if isinstance(value, date):
        return f"not the date {value.isoformat()}"
    if isinstance(value, dict):
        return "not a mapping"
    if isinstance(value, list):
        return "not a list"
    if isinstance(value, str):
        return f"not {shown(value)}"
    return f"not {type(value).__name__}"
