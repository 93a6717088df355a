"""The API's operations: one list that both the router and `/openapi.json` are built from.

Each endpoint parses its input with pydantic, calls one service method in the thread pool (the store is
synchronous and must never block the event loop) and returns JSON. The exception is an apply that needs no
network (local store, no image to look up), the request that comes in bursts: it runs on the event loop in
its turn (`turns.Turns`), cheaper than the hand-over to a thread. Errors are raised, never built here:
`errors.py` turns them into responses.

Who may call each operation is its `role` (see `Operation.__post_init__`); the kinds of objects a
deployer may change are checked where they are known (`cloudfauj.tokens.require_change`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import anyio
import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from cloudfauj.api import models as m
from cloudfauj.api.auth import identity_of
from cloudfauj.api.parsing import read_body
from cloudfauj.api.stream import stream_events
from cloudfauj.aws.accounting import REGISTRY
from cloudfauj.errors import NotFound, WouldBlock
from cloudfauj.manifests import Source
from cloudfauj.tokens import Role, require_change

__all__ = ["OPERATIONS", "Operation", "initiator_of"]

Handler = Callable[[Request, Any], Awaitable[Response]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    response: type[BaseModel] | None  # None: not JSON (the event stream) or free-form (this document)
    status: int = 200
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()  # 4xx statuses answered with the Error body
    also: dict[int, type[BaseModel]] = field(default_factory=dict)  # other documented statuses
    media_type: str = "application/json"
    tag: str = "v1"
    role: Role | None = None  # the least role that may call it; set by __post_init__ under /v1

    def __post_init__(self) -> None:
        # The role rule, in one place (ARCHITECTURE §9): everything under /v1 needs a token — a viewer's
        # for GET, an admin's for anything else unless the operation names a lower role — and declares
        # the 401 (and, above viewer, the 403) it can answer. The probes and this document stay open.
        if not self.path.startswith("/v1/"):
            if self.role is not None:
                raise ValueError(f"{self.method} {self.path} is outside /v1, so open: it takes no role.")
            return
        role = self.role or (Role.VIEWER if self.method == "GET" else Role.ADMIN)
        refused = (401,) if role is Role.VIEWER else (401, 403)
        object.__setattr__(self, "role", role)
        object.__setattr__(self, "errors", tuple(sorted({*self.errors, *refused})))


def initiator_of(request: Request) -> str | None:
    """Who is asking: the name of the bearer token the request was authorized with."""
    identity = identity_of(request)
    return identity.name if identity else None


def _role_of(request: Request) -> Role:
    identity = identity_of(request)
    assert identity is not None, "an operation under /v1 is always authorized first"
    return identity.role


#: Threads for the service's handlers, which are Python code holding the interpreter: a few threads serve
#: a burst of requests in arrival order, where many would only queue for the interpreter's lock, the last
#: ones longest (an apply's p99 under a burst of 20 clients: about 160 ms with 8 threads, 230-330 ms
#: with 40). Handlers that wait on AWS for seconds (diff, app logs, gc) use anyio's default pool of 40
#: instead, so that they never hold the others up.
REQUEST_THREADS = 8


async def _call(
    request: Request,
    method: str,
    *args: Any,
    http_status: int = 200,
    aws: bool = False,
    inline: bool = False,
    **kwargs: Any,
) -> Response:
    """`inline`: first try the method on the event loop with `may_block=False`, in this request's turn;
    if it raises `WouldBlock`, run it in a thread."""
    handler = functools.partial(getattr(request.app.state.service, method), *args, **kwargs)
    if inline:
        async with request.app.state.turns:
            try:
                return JSONResponse(handler(may_block=False), status_code=http_status)
            except WouldBlock:
                pass
    result = await anyio.to_thread.run_sync(handler, limiter=None if aws else _request_threads(request))
    return JSONResponse(result, status_code=http_status)


def _request_threads(request: Request) -> anyio.CapacityLimiter:
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "request_threads", None)
    if limiter is None:  # made in the event loop, at the first request
        limiter = request.app.state.request_threads = anyio.CapacityLimiter(REQUEST_THREADS)
    return limiter


# -- probes and the document ---------------------------------------------------------------------------
async def healthz(request: Request, _: None) -> Response:
    service = request.app.state.service
    return JSONResponse(
        {"status": "ok", "installation_id": service.installation_id, "version": service.version}
    )


async def readyz(request: Request, _: None) -> Response:
    if await run_in_threadpool(request.app.state.service.ready):
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "starting"}, status_code=503)


async def metrics(request: Request, _: None) -> Response:
    """Prometheus text format: the AWS call counters (and whatever else registers with REGISTRY)."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


# The dashboard holds no data (it reads /v1 with the user's token), so it is served to anyone. It may run
# only its own inline script and talk only to this server.
_DASHBOARD = resources.files("cloudfauj.api").joinpath("dashboard.html")
_DASHBOARD_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def dashboard(request: Request, _: None) -> Response:
    return HTMLResponse(_DASHBOARD.read_text(encoding="utf-8"), headers=_DASHBOARD_HEADERS)


async def openapi_document(request: Request, _: None) -> Response:
    return JSONResponse(request.app.state.openapi)


# -- apply and objects ---------------------------------------------------------------------------------
async def apply(request: Request, _: m.NoQuery) -> Response:
    body = await read_body(request, m.ApplyRequest)
    sources = [Source(name=s.name, text=s.content) for s in body.sources]
    return await _call(
        request,
        "apply",
        sources,
        env=body.env,
        image=body.image,
        variables=body.variables,
        deadline_seconds=body.deadline_seconds,
        source=body.source,
        force=body.force,
        initiator=initiator_of(request),
        role=_role_of(request),
        http_status=202,
        inline=True,
    )


async def diff(request: Request, _: m.NoQuery) -> Response:
    body = await read_body(request, m.ApplyRequest)
    sources = [Source(name=s.name, text=s.content) for s in body.sources]
    return await _call(
        request,
        "diff",
        sources,
        aws=True,
        env=body.env,
        image=body.image,
        variables=body.variables,
        force=body.force,
        role=_role_of(request),
    )


def _lister(kind: str) -> Handler:
    async def list_objects(request: Request, q: m.PageQuery) -> Response:
        env = q.env if isinstance(q, m.ApplicationsQuery) else None
        return await _call(request, "list_objects", kind, env=env, limit=q.limit, cursor=q.cursor)

    return list_objects


def _getter(kind: str) -> Handler:
    async def get_object(request: Request, _: m.NoQuery) -> Response:
        p = request.path_params
        return await _call(request, "get_object", kind, p["name"], env=p.get("env"))

    return get_object


def _deleter(kind: str) -> Handler:
    async def delete_object(request: Request, q: BaseModel) -> Response:
        p = request.path_params
        cascade = q.cascade if isinstance(q, m.DeleteQuery) else False
        return await _call(
            request,
            "delete_object",
            kind,
            p["name"],
            env=p.get("env"),
            cascade=cascade,
            initiator=initiator_of(request),
            http_status=202,
        )

    return delete_object


# -- records ---------------------------------------------------------------------------------------------
async def list_deployments(request: Request, q: m.DeploymentsQuery) -> Response:
    return await _call(
        request,
        "list_records",
        kind="Application",
        env=q.env,
        name=q.app,
        status=q.status,
        limit=q.limit,
        cursor=q.cursor,
    )


async def get_deployment(request: Request, _: m.NoQuery) -> Response:
    record_id = request.path_params["id"]
    record = await run_in_threadpool(request.app.state.service.get_record, record_id)
    if record["kind"] != "Application":
        raise NotFound(
            f"Deployment '{record_id}' does not exist: it is the record of {record['kind']} "
            f"'{record['name']}' (see /v1/records/{record_id})."
        )
    return JSONResponse(record)


async def list_records(request: Request, q: m.RecordsQuery) -> Response:
    return await _call(
        request,
        "list_records",
        kind=q.kind,
        env=q.env,
        name=q.name,
        status=q.status,
        limit=q.limit,
        cursor=q.cursor,
    )


async def get_record(request: Request, _: m.NoQuery) -> Response:
    return await _call(request, "get_record", request.path_params["id"])


async def record_events(request: Request, q: m.EventsQuery) -> Response:
    return await _call(request, "record_events", request.path_params["id"], after=q.after)


async def rollback(request: Request, _: m.NoQuery) -> Response:
    body = await read_body(request, m.RollbackRequest, empty_ok=True)
    p = request.path_params
    return await _call(
        request,
        "rollback",
        p["env"],
        p["name"],
        to=body.to,
        source=body.source,
        initiator=initiator_of(request),
        http_status=202,
    )


async def cancel_record(request: Request, _: m.NoQuery) -> Response:
    record_id = request.path_params["id"]
    record = await run_in_threadpool(request.app.state.service.get_record, record_id)
    require_change(_role_of(request), record["kind"], record["name"], verb="cancel the record of")
    return await _call(request, "cancel", record_id, initiator=initiator_of(request), http_status=202)


def _reconciler(kind: str) -> Handler:
    async def reconcile(request: Request, _: m.NoQuery) -> Response:
        body = await read_body(request, m.ReconcileRequest, empty_ok=True)
        p = request.path_params
        return await _call(
            request,
            "reconcile",
            kind,
            p["name"],
            env=p.get("env"),
            source=body.source,
            initiator=initiator_of(request),
            http_status=202,
        )

    return reconcile


async def app_logs(request: Request, q: m.AppLogsQuery) -> Response:
    p = request.path_params
    return await _call(
        request, "app_logs", p["env"], p["name"], since=q.since, cursor=q.cursor, limit=q.limit, aws=True
    )


async def gc(request: Request, _: m.NoQuery) -> Response:
    body = await read_body(request, m.GcRequest)
    result = await run_in_threadpool(
        request.app.state.service.gc, dry_run=body.dry_run, initiator=initiator_of(request)
    )
    return JSONResponse(result, status_code=202 if result["records"] else 200)


async def list_sources(request: Request, _: m.NoQuery) -> Response:
    return await _call(request, "list_sources")


# -- tokens ---------------------------------------------------------------------------------------------
async def create_token(request: Request, _: m.NoQuery) -> Response:
    body = await read_body(request, m.TokenRequest)
    created = await run_in_threadpool(request.app.state.service.create_token, body.name, Role(body.role))
    # The secret is in this answer only: no cache or proxy may keep it.
    return JSONResponse(created, status_code=201, headers={"Cache-Control": "no-store"})


async def list_tokens(request: Request, q: m.PageQuery) -> Response:
    return await _call(request, "list_tokens", limit=q.limit, cursor=q.cursor)


async def revoke_token(request: Request, _: m.NoQuery) -> Response:
    return await _call(request, "revoke_token", request.path_params["name"])


def _object_operations(word: str, kind: str) -> list[Operation]:
    """List, get and delete for one kind; applications are addressed by environment and name."""
    one = f"/v1/{word}/{{env}}/{{name}}" if kind == "Application" else f"/v1/{word}/{{name}}"
    page_query = m.ApplicationsQuery if kind == "Application" else m.PageQuery
    delete_query = m.NoQuery if kind == "Application" else m.DeleteQuery
    change_role = Role.DEPLOYER if kind == "Application" else Role.ADMIN
    return [
        Operation(
            "GET", f"/v1/{word}", _lister(kind), f"List {word}", m.ObjectPage, query=page_query, errors=(400,)
        ),
        Operation(
            "GET",
            one,
            _getter(kind),
            f"Get one {kind}",
            m.StoredObjectOut,
            query=m.NoQuery,
            errors=(400, 404),
        ),
        Operation(
            "DELETE",
            one,
            _deleter(kind),
            f"Delete one {kind} (opens its deletion records)",
            m.DeleteResult,
            status=202,
            query=delete_query,
            errors=(400, 404, 409),
            role=change_role,
        ),
        Operation(
            "POST",
            f"{one}/reconcile",
            _reconciler(kind),
            f"Compare one {kind} with AWS now: a drift record that corrects (or only reports) drift",
            m.RecordsResult,
            status=202,
            query=m.NoQuery,
            body=m.ReconcileRequest,
            errors=(400, 404, 413),
            role=change_role,
        ),
    ]


OPERATIONS: list[Operation] = [
    Operation(
        "GET",
        "/",
        dashboard,
        "The web dashboard: a static page that reads /v1 with the token the user pastes into it",
        None,
        media_type="text/html",
        tag="dashboard",
    ),
    Operation("GET", "/healthz", healthz, "Liveness, with the installation id", m.Health, tag="probes"),
    Operation(
        "GET",
        "/readyz",
        readyz,
        "Readiness: 200 once stored work is re-queued",
        m.Readiness,
        also={503: m.Readiness},
        tag="probes",
    ),
    Operation("GET", "/openapi.json", openapi_document, "This OpenAPI document", None, tag="probes"),
    Operation(
        "GET",
        "/metrics",
        metrics,
        "Prometheus metrics, e.g. cloudfauj_aws_calls_total{service,operation,outcome}",
        None,
        media_type="text/plain",
        tag="probes",
    ),
    Operation(
        "POST",
        "/v1/apply",
        apply,
        "Apply manifests: store desired state, open records",
        m.ApplyResult,
        status=202,
        query=m.NoQuery,
        body=m.ApplyRequest,
        errors=(400, 409, 413),
        role=Role.DEPLOYER,  # and kinds checked by the service: Applications only
    ),
    Operation(
        "POST",
        "/v1/diff",
        diff,
        "What applying the same body would change, per AWS resource (nothing is stored or changed)",
        m.DiffResult,
        query=m.NoQuery,
        body=m.ApplyRequest,
        errors=(400, 413, 502, 503),
        role=Role.DEPLOYER,  # and kinds checked by the service: Applications only
    ),
    *_object_operations("environments", "Environment"),
    *_object_operations("applications", "Application"),
    *_object_operations("domains", "Domain"),
    Operation(
        "POST",
        "/v1/applications/{env}/{name}/rollback",
        rollback,
        "Roll an application back to an earlier deployment's spec (opens a `rollback` deployment)",
        m.RollbackResult,
        status=202,
        query=m.NoQuery,
        body=m.RollbackRequest,
        errors=(400, 404, 409, 413),
        role=Role.DEPLOYER,
    ),
    Operation(
        "POST",
        "/v1/records/{id}/cancel",
        cancel_record,
        "Stop an open record; a deployment's service returns to its last good revision",
        m.RecordsResult,
        status=202,
        query=m.NoQuery,
        errors=(400, 404, 409),
        role=Role.DEPLOYER,  # and the record's kind checked by the endpoint: Applications only
    ),
    Operation(
        "GET",
        "/v1/deployments",
        list_deployments,
        "List deployments (Application records), newest first",
        m.RecordPage,
        query=m.DeploymentsQuery,
        errors=(400,),
    ),
    Operation(
        "GET",
        "/v1/deployments/{id}",
        get_deployment,
        "Get one deployment with its events",
        m.RecordOut,
        query=m.NoQuery,
        errors=(400, 404),
    ),
    Operation(
        "GET",
        "/v1/records",
        list_records,
        "List records of every kind, newest first",
        m.RecordPage,
        query=m.RecordsQuery,
        errors=(400,),
    ),
    Operation(
        "GET",
        "/v1/records/{id}",
        get_record,
        "Get one record with its events",
        m.RecordOut,
        query=m.NoQuery,
        errors=(400, 404),
    ),
    Operation(
        "GET",
        "/v1/records/{id}/events",
        record_events,
        "A record and its events after `after`",
        m.EventPage,
        query=m.EventsQuery,
        errors=(400, 404),
    ),
    Operation(
        "GET",
        "/v1/records/{id}/events/stream",
        stream_events,
        "Follow a record as server-sent events (`event`, `record`, then `end`)",
        None,
        query=m.EventsQuery,
        errors=(400, 404),
        media_type="text/event-stream",
    ),
    Operation(
        "GET",
        "/v1/environments/{env}/applications/{name}/logs",
        app_logs,
        "An application's log lines (every task's, from CloudWatch Logs), oldest first",
        m.AppLogPage,
        query=m.AppLogsQuery,
        errors=(400, 404, 502, 503),
    ),
    Operation(
        "POST",
        "/v1/gc",
        gc,
        "AWS resources with this installation's tag that no live object owns; without dry_run, delete "
        "them (202 with the record of their deletion; 200 when there are none)",
        m.GcResult,
        query=m.NoQuery,
        body=m.GcRequest,
        errors=(400, 413, 502, 503),
        also={202: m.GcResult},
        role=Role.ADMIN,
    ),
    Operation(
        "GET",
        "/v1/sources",
        list_sources,
        "The directories this server applies (`--sync-dir`): revision applied, or why not",
        m.SourceList,
        query=m.NoQuery,
        errors=(400,),
    ),
    Operation(
        "POST",
        "/v1/tokens",
        create_token,
        "Create an API token; its secret is in this answer only",
        m.TokenCreated,
        status=201,
        query=m.NoQuery,
        body=m.TokenRequest,
        errors=(400, 409, 413),
    ),
    Operation(
        "GET",
        "/v1/tokens",
        list_tokens,
        "List API tokens by name: names, roles and times, never secrets",
        m.TokenPage,
        query=m.PageQuery,
        errors=(400,),
    ),
    Operation(
        "DELETE",
        "/v1/tokens/{name}",
        revoke_token,
        "Revoke an API token (it keeps its name; the last admin token cannot be revoked)",
        m.TokenOut,
        query=m.NoQuery,
        errors=(400, 404, 409),
    ),
]
