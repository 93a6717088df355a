"""The building blocks of the manifest models: strict base model, the two upstream conversions, rule errors.

Shared by `models.py` (the kinds) and `workload.py` (what an application runs with), so that both say a
rule the same way: a pydantic error of type "cloudfauj" located at the offending field, which
`problems.py` turns into a sentence with the file's line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = [
    "MAX_REPLICAS",
    "RULE_ERROR",
    "Int",
    "StrictModel",
    "Text",
    "blank_to_none",
    "raise_rule_errors",
    "rule_error",
    "without_empty",
]

RULE_ERROR = "cloudfauj"  # the pydantic error type of every rule
MAX_REPLICAS = 100  # a sane ceiling for one service; ECS itself allows far more
_DIGITS = re.compile(r"[+-]?[0-9]{1,18}")  # longer strings stay strings: "must be an integer"


def _digits_to_int(value: object) -> object:
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value)
    return value


def _int_to_text(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def blank_to_none(value: object) -> object:
    # Upstream treats a blank domain as "no domain"; `domain: ""` or `domain:` must not mean a domain.
    return None if isinstance(value, str) and not value.strip() else value


Int = Annotated[int, BeforeValidator(_digits_to_int)]
Text = Annotated[str, BeforeValidator(_int_to_text)]


def rule_error(message: str) -> PydanticCustomError:
    return PydanticCustomError(RULE_ERROR, "{message}", {"message": message})


def raise_rule_errors(title: str, errors: Iterable[tuple[str, str | None, object]]) -> None:
    """Raise every (field, message, value) at once, each located at its field of the model validated
    (a dotted field, "resources.network.bind_port", is located below it).

    A message of None means the field is missing: pydantic's own "missing" error, so that it is
    explained like any other missing field.
    """
    details = [
        InitErrorDetails(type=rule_error(m) if m is not None else "missing", loc=tuple(f.split(".")), input=v)
        for f, m, v in errors
    ]
    if details:
        raise ValidationError.from_exception_data(title, details)


def without_empty(data: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """`data` without those of `keys` that are None or empty: optional fields added after specs were
    first stored are left out when unset, so a stored spec and the same manifest re-applied compare equal."""
    for key in keys:
        if data.get(key) in (None, {}, []):
            data.pop(key, None)
    return data


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
