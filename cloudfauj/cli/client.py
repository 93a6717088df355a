"""The CLI's HTTP client of the Cloudfauj API, and the one place HTTP failures become exceptions.

    ClientError
    ├── Unreachable     nothing answers at --server, or the connection broke, or it timed out
    ├── Refused         401/403: the token was refused
    ├── Rejected        any other 4xx: the request was wrong (bad input, unknown object, conflict)
    └── ServerFailed    5xx, or an answer that is not the Cloudfauj API

Each carries the sentences to show the user (`lines`); which exit code each one means is decided by the
command layer (`commands/common.py`).

Tokens: the command layer passes `--token` or `CLOUDFAUJ_TOKEN` when given; otherwise the client, before
its first /v1 request, asks the server's `/healthz` for its installation id and uses the token the
user's config file holds for it (`cloudfauj.userconfig`), if any.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from cloudfauj import userconfig

__all__ = [
    "DEFAULT_SERVER",
    "Client",
    "ClientError",
    "Refused",
    "Rejected",
    "ServerFailed",
    "Unreachable",
    "check",
    "mapped_errors",
]

DEFAULT_SERVER = "http://127.0.0.1:6200"
PAGE_SIZE = 500  # the API's largest page


class ClientError(Exception):
    def __init__(self, message: str, lines: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.lines = lines or [message]


class Unreachable(ClientError):
    pass


class Refused(ClientError):
    pass


class Rejected(ClientError):
    def __init__(self, status: int, code: str, message: str, lines: list[str] | None = None) -> None:
        super().__init__(message, lines)
        self.status, self.code = status, code


class ServerFailed(ClientError):
    pass


@contextmanager
def mapped_errors(server: str) -> Iterator[None]:
    """httpx's transport errors, most specific first, as `Unreachable`."""
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout) as e:
        if "CERTIFICATE_VERIFY_FAILED" in str(e):
            raise Unreachable(
                f"The TLS certificate of the server at {server} is not trusted ({e}); pass --ca-bundle FILE "
                "(or set CLOUDFAUJ_CA_BUNDLE) with the certificate of the CA that signed it."
            ) from e
        raise Unreachable(
            f"Cannot reach the Cloudfauj server at {server} ({e}); is it running? "
            "Point --server or CLOUDFAUJ_SERVER at it."
        ) from e
    except httpx.TimeoutException as e:
        raise Unreachable(
            f"The Cloudfauj server at {server} did not answer in time ({type(e).__name__})."
        ) from e
    except httpx.TransportError as e:
        raise Unreachable(
            f"The connection to the Cloudfauj server at {server} broke: {e or type(e).__name__}."
        ) from e


def check(response: httpx.Response, server: str) -> Any:
    """The JSON body of a successful response; otherwise the matching `ClientError`."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        if body is None and response.content.strip() != b"null":
            raise ServerFailed(
                f"The server at {server} answered with something other than JSON; "
                "is --server pointing at a Cloudfauj server?"
            )
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    status = response.status_code
    message = str(
        error.get("message") or f"The server at {server} answered {status} {response.reason_phrase}."
    )
    details = error.get("details")
    lines = (
        [str(p["sentence"]) for p in details if isinstance(p, dict) and p.get("sentence")]
        if isinstance(details, list)
        else []
    )
    if status in (401, 403):
        raise Refused(_refusal(response, server, message))
    if 400 <= status < 500:
        raise Rejected(status, str(error.get("code") or status), message, lines or [message])
    raise ServerFailed(f"The server failed ({status}): {message}")


def _refusal(response: httpx.Response, server: str, message: str) -> str:
    """What to tell the user about a 401 or 403, and what to do about it."""
    if response.status_code == 403:
        return f"The server refused the request (403): {message} Ask an admin for a token with that role."
    try:
        sent = "authorization" in response.request.headers
    except RuntimeError:  # a response built by hand has no request
        sent = False
    if sent:
        return (
            f"The server refused the token (401): {message} Check --token, CLOUDFAUJ_TOKEN or the "
            f"token for this installation in {userconfig.config_path()}."
        )
    return (
        f"The server at {server} needs an API token and none was given: pass --token or set "
        "CLOUDFAUJ_TOKEN (an admin creates one with `cloudfauj token create NAME --role ROLE`). "
        "The user who started the server finds its admin token in <data-dir>/admin-token, and the CLI "
        f"uses it without being told when run as that user (from {userconfig.config_path()})."
    )


class Client:
    """A synchronous client: one connection pool, JSON in and out, errors mapped.

    `verify` is what httpx checks an https server's certificate with (an SSL context built from
    --ca-bundle, or True for the system's CAs). With `find_token` and no `token`, the token comes from
    the user's config file (see the module's docstring)."""

    def __init__(
        self,
        server: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        verify: ssl.SSLContext | bool = True,
        find_token: bool = False,
    ) -> None:
        self.server = server.rstrip("/")
        self.headers = {"Accept": "application/json"}
        self.verify = verify
        self._find_token = find_token and not token
        self._http = httpx.Client(
            base_url=self.server,
            headers=self.headers,
            timeout=httpx.Timeout(timeout, connect=5.0),
            verify=verify,
        )
        if token:
            self._use(token)

    def _use(self, token: str) -> None:
        self.headers["Authorization"] = f"Bearer {token}"
        self._http.headers["Authorization"] = self.headers["Authorization"]

    def resolve_token(self) -> None:
        """Without a token given, use the config file's token for this server's installation (once)."""
        if not self._find_token:
            return
        self._find_token = False
        known = userconfig.installation_tokens()  # ConfigError: a file we cannot read is worth saying
        if not known:
            return  # no file, no entries: nothing to look up, and no extra request
        with mapped_errors(self.server):
            health = check(self._http.get("/healthz"), self.server)
        token = known.get(str(health.get("installation_id") if isinstance(health, dict) else None))
        if token:
            self._use(token)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        if path.startswith("/v1/"):
            self.resolve_token()
        with mapped_errors(self.server):
            response = self._http.request(method, path, params=query, json=json)
        return check(response, self.server)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)

    def delete(self, path: str, **params: Any) -> Any:
        return self.request("DELETE", path, params=params)

    def paginate(self, path: str, *, limit: int | None = None, **params: Any) -> list[Any]:
        """Every item of a paged list (or the first `limit`), following `next_cursor`."""
        items: list[Any] = []
        cursor = None
        while limit is None or len(items) < limit:
            size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(items))
            page = self.get(path, **params, limit=size, cursor=cursor)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        return items


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
