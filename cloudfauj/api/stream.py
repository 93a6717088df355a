"""Following one record as server-sent events: `GET /v1/records/{id}/events/stream?after=N`.

The stream polls the service (in the thread pool) and sends, in order:

    event: event    data: <event>     one per new event (`id:` is its seq, so EventSource can resume)
    event: record   data: <record>    first, then whenever the record's status changes
    event: end      data: <record>    once the record is terminal; then the stream closes

and a `: keepalive` comment after a quiet spell, so proxies and clients can tell a live stream from a
dead one. Starlette cancels the generator when the client disconnects.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from cloudfauj.api.models import MAX_ID, EventsQuery
from cloudfauj.records import TERMINAL

__all__ = ["stream_events"]


async def stream_events(request: Request, query: EventsQuery) -> Response:
    record_id = request.path_params["id"]
    after = max(query.after, _last_event_id(request))
    service = request.app.state.service
    # Read once before answering, so an unknown record is a plain 404 rather than a broken stream.
    first = await run_in_threadpool(service.record_events, record_id, after=after)
    frames = _frames(
        service,
        record_id,
        first,
        after,
        poll=request.app.state.stream_poll_seconds,
        keepalive=request.app.state.keepalive_seconds,
    )
    return StreamingResponse(
        frames,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _frames(
    service: Any, record_id: str, page: dict[str, Any], after: int, *, poll: float, keepalive: float
) -> AsyncIterator[str]:
    status = None
    last_sent = time.monotonic()
    while True:
        record = page["record"]
        events = [_frame("event", e, event_id=e["seq"]) for e in page["items"]]
        after = max([after, *(e["seq"] for e in page["items"])])
        changed = record["status"] != status
        status = record["status"]
        # A record starts before its events and ends after them: order the frames the same way.
        if changed and status not in TERMINAL:
            out = [_frame("record", record), *events]
        else:
            out = [*events, *([_frame("record", record)] if changed else [])]
        if status in TERMINAL:
            yield "".join(out) + _frame("end", record)
            return
        if out:
            yield "".join(out)
            last_sent = time.monotonic()
        elif time.monotonic() - last_sent >= keepalive:
            yield ": keepalive\n\n"
            last_sent = time.monotonic()
        await anyio.sleep(poll)
        page = await run_in_threadpool(service.record_events, record_id, after=after)


def _frame(name: str, data: dict[str, Any], *, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _last_event_id(request: Request) -> int:
    """A reconnecting EventSource sends the last `id:` it saw; resume after it."""
    value = request.headers.get("last-event-id", "").strip()
    # ASCII digits only: a header is Latin-1, and `isdigit` alone would take '²', which `int` refuses.
    if not (value.isascii() and value.isdigit()):
        return 0
    return int(value) if len(value) <= 18 else MAX_ID  # past any seq: `int` of 5000 digits would raise
