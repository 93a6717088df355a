"""Exceptions → HTTP responses, in one table.

Every error body is `{"error": {"code", "message", "details"}}`. Client mistakes are 4xx: invalid input
(including a malformed or mistyped body and bad query parameters) 400, no valid token 401 (with
`WWW-Authenticate: Bearer`), a role that may not 403, unknown object or route 404, wrong method 405,
conflict with stored state 409, body too large 413. What this server cannot serve now (no AWS access, no
planner, AWS throttling its own reads) is 503; AWS refusing its reads (e.g. access denied) is 502.
Anything else is a bug: 500 with a generic message, logged with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cloudfauj.errors import (
    CloudfaujError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PermanentError,
    Problem,
    TemporaryError,
    Unauthorized,
    Unavailable,
)

__all__ = ["EXCEPTION_HANDLERS", "PayloadTooLarge", "STATUS_OF", "error_response", "invalid_input_from"]

log = logging.getLogger("cloudfauj.api")


class PayloadTooLarge(CloudfaujError):
    """The request body is over the server's limit (`max_body_bytes`)."""

    code = "payload_too_large"


STATUS_OF: dict[type[CloudfaujError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    Unavailable: 503,
    # what AWS answered the server's own read (diff, logs, gc): throttled or down → 503, retry later;
    # refused (e.g. access denied) → 502, the server's AWS side is wrong, not the request
    TemporaryError: 503,
    PermanentError: 502,
}

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}}, status_code=status, headers=headers
    )


def invalid_input_from(error: ValidationError, *, where: str) -> InvalidInput:
    """A pydantic error about the request (`where`: "body" or "query") as located problems."""
    problems = []
    for err in error.errors():
        field = ".".join(str(part) for part in err["loc"]) or None
        message = "is not a known field" if err["type"] == "extra_forbidden" else err["msg"]
        problems.append(Problem(f"{message} (in the request {where})", field=field))
    return InvalidInput(problems)


async def _known(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CloudfaujError)
    status = next(s for cls, s in STATUS_OF.items() if isinstance(exc, cls))
    challenge = {"WWW-Authenticate": 'Bearer realm="cloudfauj"'} if status == 401 else None
    return error_response(status, exc.code, exc.message, exc.details, headers=challenge)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        message = f"{request.method} is not allowed on {request.url.path}; use {allowed}."
    elif exc.status_code == 404:
        message = f"No API route matches {request.url.path}."
    else:
        message = exc.detail
    return error_response(
        exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"), message, headers=exc.headers
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Starlette re-raises the exception after this handler answers, so the ASGI server logs it too;
    # this line ties the traceback to the request that caused it.
    log.error("unexpected error answering %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500, "internal_error", "The server failed unexpectedly; the error is in its log. Retry, or report it."
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    **{cls: _known for cls in STATUS_OF},
    HTTPException: _http,
    Exception: _unexpected,
}
