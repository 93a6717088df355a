"""The app factory: routes and `/openapi.json` from one operation list, plus one exception table.

Where it sits: `cloudfauj server` builds the `Service` (store, reactor) and passes it here with the
authenticator of its tokens; tests pass a fake service (`cloudfauj.api.testing.FakeService`), which is
its own authenticator. The app holds no state besides those two. Every operation under /v1 is authorized
(`auth.authorize`) before anything else happens.
"""

from __future__ import annotations

from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from cloudfauj.api.auth import Authenticator, authorize
from cloudfauj.api.errors import EXCEPTION_HANDLERS
from cloudfauj.api.openapi import build_openapi
from cloudfauj.api.parsing import read_query
from cloudfauj.api.routes import OPERATIONS, Operation
from cloudfauj.api.turns import Turns
from cloudfauj.manifests import Source
from cloudfauj.priority import FOREGROUND
from cloudfauj.tokens import Role

__all__ = ["ServiceAPI", "create_app"]


class ServiceAPI(Protocol):
    """What the API needs of the core: `cloudfauj.service.Service` (synchronous; called in threads)."""

    installation_id: str
    version: str

    def ready(self) -> bool: ...

    def apply(
        self,
        sources: list[Source],
        *,
        env: str | None,
        image: str | None,
        deadline_seconds: float | None,
        source: str | None,
        force: bool,
        initiator: str | None,
        role: Role = Role.ADMIN,
        variables: dict[str, str] | None = None,
        may_block: bool = True,
    ) -> dict[str, Any]: ...

    def diff(
        self,
        sources: list[Source],
        *,
        env: str | None,
        image: str | None,
        force: bool = False,
        role: Role = Role.ADMIN,
    ) -> dict[str, Any]: ...

    def list_objects(
        self, kind: str, *, env: str | None, limit: int, cursor: str | None
    ) -> dict[str, Any]: ...

    def get_object(self, kind: str, name: str, *, env: str | None = None) -> dict[str, Any]: ...

    def delete_object(
        self,
        kind: str,
        name: str,
        *,
        env: str | None = None,
        cascade: bool = False,
        initiator: str | None = None,
    ) -> dict[str, Any]: ...

    def list_records(
        self,
        *,
        kind: str | None,
        env: str | None,
        name: str | None,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> dict[str, Any]: ...

    def get_record(self, record_id: str) -> dict[str, Any]: ...

    def record_events(self, record_id: str, *, after: int = 0) -> dict[str, Any]: ...

    def rollback(
        self, env: str, app: str, *, to: str | None, initiator: str | None, source: str | None
    ) -> dict[str, Any]: ...

    def cancel(self, record_id: str, *, initiator: str | None) -> dict[str, Any]: ...

    def reconcile(
        self, kind: str, name: str, *, env: str | None, initiator: str | None, source: str | None
    ) -> dict[str, Any]: ...

    def app_logs(
        self, env: str, name: str, *, since: str | None, cursor: str | None, limit: int
    ) -> dict[str, Any]: ...

    def list_sources(self) -> dict[str, Any]: ...

    def create_token(self, name: str, role: Role) -> dict[str, Any]: ...

    def list_tokens(self, *, limit: int, cursor: str | None) -> dict[str, Any]: ...

    def revoke_token(self, name: str) -> dict[str, Any]: ...


def create_app(
    service: ServiceAPI,
    *,
    authenticator: Authenticator,
    lifespan: Any = None,
    max_body_bytes: int = 1 << 20,
    stream_poll_seconds: float = 0.25,
    keepalive_seconds: float = 15.0,
) -> Starlette:
    """The ASGI app serving `service` to the holders of tokens `authenticator` knows; the stream polls
    every `stream_poll_seconds` and sends a keepalive after `keepalive_seconds` of quiet."""
    app = Starlette(
        routes=[_route(op) for op in OPERATIONS],
        middleware=[Middleware(_Foreground)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.authenticator = authenticator
    app.state.max_body_bytes = max_body_bytes
    app.state.stream_poll_seconds = stream_poll_seconds
    app.state.keepalive_seconds = keepalive_seconds
    app.state.openapi = build_openapi(OPERATIONS, version=service.version)
    app.state.turns = Turns()  # the applies run on the event loop (routes._call)
    return app


class _Foreground:
    """Controllers make way while a request is handled, from its routing to its last byte sent
    (`cloudfauj.priority`); an event stream, open for minutes, is not counted."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith("/stream"):
            await self.app(scope, receive, send)
            return
        with FOREGROUND.request():
            await self.app(scope, receive, send)


def _route(op: Operation) -> Route:
    # One Route per (path, method): the router tries them in order and answers 405 only when a path
    # matched under no method.
    async def endpoint(request: Request) -> Response:
        if op.role is not None:  # first: a stranger gets 401, never a 400 about the query or a 413
            await authorize(request, op.role)
        query = read_query(request, op.query) if op.query else None
        return await op.handler(request, query)

    endpoint.__name__ = op.handler.__name__
    return Route(op.path, endpoint, methods=[op.method])
