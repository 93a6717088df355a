"""The API's operations: one list that both the router and `/openapi.json` are built from.

Each endpoint parses its input with pydantic, calls one service method in the thread pool (the store is
synchronous and must never block the event loop) and returns JSON. Errors are raised, never built here:
`errors.py` turns them into responses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cloudfauj.api import models as m
from cloudfauj.api.parsing import read_body
from cloudfauj.api.stream import stream_events
from cloudfauj.errors import NotFound
from cloudfauj.manifests import Source

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


def initiator_of(request: Request) -> str | None:
    """Who is asking: the bearer token's name. Tokens are not checked yet, so nobody in particular."""
    return None


async def _call(request: Request, method: str, *args: Any, http_status: int = 200, **kwargs: Any) -> Response:
    result = await run_in_threadpool(getattr(request.app.state.service, method), *args, **kwargs)
    return JSONResponse(result, status_code=http_status)


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
        deadline_seconds=body.deadline_seconds,
        source=body.source,
        force=body.force,
        initiator=initiator_of(request),
        http_status=202,
    )


async def diff(request: Request, _: m.NoQuery) -> Response:
    body = await read_body(request, m.ApplyRequest)
    sources = [Source(name=s.name, text=s.content) for s in body.sources]
    return await _call(request, "diff", sources, env=body.env, image=body.image, force=body.force)


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
    return await _call(
        request, "cancel", request.path_params["id"], initiator=initiator_of(request), http_status=202
    )


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
        request, "app_logs", p["env"], p["name"], since=q.since, cursor=q.cursor, limit=q.limit
    )


def _object_operations(word: str, kind: str) -> list[Operation]:
    """List, get and delete for one kind; applications are addressed by environment and name."""
    one = f"/v1/{word}/{{env}}/{{name}}" if kind == "Application" else f"/v1/{word}/{{name}}"
    page_query = m.ApplicationsQuery if kind == "Application" else m.PageQuery
    delete_query = m.NoQuery if kind == "Application" else m.DeleteQuery
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
        ),
    ]


OPERATIONS: list[Operation] = [
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
        "POST",
        "/v1/apply",
        apply,
        "Apply manifests: store desired state, open records",
        m.ApplyResult,
        status=202,
        query=m.NoQuery,
        body=m.ApplyRequest,
        errors=(400, 409, 413),
    ),
    Operation(
        "POST",
        "/v1/diff",
        diff,
        "What applying the same body would change, per AWS resource (nothing is stored or changed)",
        m.DiffResult,
        query=m.NoQuery,
        body=m.ApplyRequest,
        errors=(400, 413),
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
        errors=(400, 404),
    ),
]
