"""Reading what a request carries: a size-limited JSON body and the query string, each into its model.

Both raise `InvalidInput` (400) with one located problem per mistake, and the body reader raises
`PayloadTooLarge` (413) as soon as the declared or the streamed size passes the limit, so an oversized
body is never held in memory.
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
    try:
        payload = json.loads(data)
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
        raise InvalidInput(f"The request body is not valid JSON: {e}.") from e
    try:
        return model.model_validate(payload)
    except ValidationError as e:
        raise invalid_input_from(e, where="body") from e


def read_query(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as e:
        raise invalid_input_from(e, where="query") from e


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
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
