"""Reading what a request carries: a size-limited JSON body and the query string, each into its model.

Both raise `InvalidInput` (400) with one located problem per mistake, and the body reader raises
`PayloadTooLarge` (413) as soon as the declared or the streamed size passes the limit, so an oversized
body is never held in memory. A body is JSON as RFC 8259 has it: UTF-8, no key twice in one object (Python
would keep the last one silently), no NaN or Infinity, and nested at most as deep as the decoder can go.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from cloudfauj.api.errors import PayloadTooLarge, invalid_input_from
from cloudfauj.errors import InvalidInput

__all__ = ["read_body", "read_query"]

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, model: type[M], *, empty_ok: bool = False) -> M:
    """The body as `model`; with `empty_ok`, no body at all means the model's defaults."""
    data = await _read_limited(request, request.app.state.max_body_bytes)
    if empty_ok and not data.strip():
        data = b"{}"
    payload = _json(data)
    try:
        return model.model_validate(payload)
    except ValidationError as e:
        raise invalid_input_from(e, where="body") from e


def _json(data: bytes) -> object:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInput(
            f"The request body is not UTF-8 text: byte {data[e.start]:#04x} at offset {e.start} is not "
            "valid there; send JSON in UTF-8."
        ) from e
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant, parse_int=_int)
    except RecursionError as e:
        raise InvalidInput("The request body is not usable JSON: its values are nested too deeply.") from e
    except ValueError as e:  # JSONDecodeError, and ours below
        raise InvalidInput(f"The request body is not valid JSON: {e}.") from e


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {json.dumps(key)} appears twice in one object")
        out[key] = value
    return out


def _int(digits: str) -> int:
    # Python refuses to convert more than 4300 digits anyway, with a message about its own settings.
    if len(digits.lstrip("-")) > 100:
        raise ValueError(f"a number has {len(digits.lstrip('-'))} digits; no field takes more than 100")
    return int(digits)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def read_query(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as e:
        raise invalid_input_from(e, where="query") from e


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    # ASCII digits only (a header is Latin-1: `isdigit` alone would take '²'); more digits than any
    # limit has is too large without converting them.
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than the server's limit of {limit} bytes; "
        "apply fewer or smaller files at a time."
    )
