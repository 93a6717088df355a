"""Following records until they are terminal: what `apply`, `delete` and `logs --follow` wait on.

Each record is followed concurrently (asyncio) over the server-sent event stream
`/v1/records/{id}/events/stream`. If a stream drops, that record is followed by polling
`/v1/records/{id}/events?after=N` instead; if polling cannot reach the server either, the wait fails
with `Unreachable` — never a silent success. Every new event and every status change is handed to
`on_update` as it arrives. `timeout` bounds the whole wait (`FollowTimeout`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from cloudfauj.cli.client import Client, ClientError, check, mapped_errors

__all__ = ["TERMINAL", "FollowTimeout", "SSEParser", "Update", "follow"]

TERMINAL = frozenset({"succeeded", "failed", "superseded", "cancelled"})
STREAM_READ_TIMEOUT = 60.0  # the server sends a keepalive every ~15 s; silence this long is a dead stream


@dataclass(frozen=True)
class Update:
    """A new event of `record` (`event` set), or a change of its status (`event` None)."""

    record: dict[str, Any]
    event: dict[str, Any] | None = None


class FollowTimeout(ClientError):
    """`timeout` passed with some of `records` (their last known state) not terminal."""

    def __init__(self, records: list[dict[str, Any]], timeout: float) -> None:
        self.records = records
        ids = ", ".join(r["id"] for r in records if r["status"] not in TERMINAL)
        super().__init__(
            f"Timed out after {timeout:g} s; still running on the server: {ids}. "
            "Follow with `cloudfauj logs record ID --follow`."
        )


def follow(
    client: Client,
    records: list[dict[str, Any]],
    on_update: Callable[[Update], None],
    *,
    timeout: float | None = None,
    after: dict[str, int] | None = None,
    poll_seconds: float = 1.0,
) -> list[dict[str, Any]]:
    """Wait until every record is terminal; their last known state, in the order given."""
    trackers = [_Tracker(r, on_update, (after or {}).get(r["id"], 0)) for r in records]
    client.resolve_token()  # the streams send the client's headers, token included
    asyncio.run(_follow_all(client, trackers, timeout, poll_seconds))
    return [t.record for t in trackers]


class SSEParser:
    """Server-sent events, one line at a time: `feed()` returns (event, data) when one is complete."""

    def __init__(self) -> None:
        self._event = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> tuple[str, str] | None:
        if not line:
            done = (self._event, "\n".join(self._data)) if self._data else None
            self._event, self._data = "message", []
            return done
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None


class _Tracker:
    """One record's last known state and the seq of the last event reported."""

    def __init__(self, record: dict[str, Any], on_update: Callable[[Update], None], after: int) -> None:
        self.record, self.after, self._on_update = record, after, on_update
        self._reported_status: str | None = None

    @property
    def done(self) -> bool:
        return self.record["status"] in TERMINAL

    def event(self, event: dict[str, Any]) -> None:
        if event["seq"] > self.after:
            self.after = event["seq"]
            self._on_update(Update(self.record, event))

    def page(self, record: dict[str, Any], events: list[dict[str, Any]]) -> None:
        """A polled state: a record starts before its events and ends after them."""
        if record["status"] not in TERMINAL:
            self.status(record)
        for event in events:
            self.event(event)
        self.status(record)

    def status(self, record: dict[str, Any]) -> None:
        self.record = record  # the whole record, as the server has it now (without its events)
        if record["status"] != self._reported_status:
            self._reported_status = record["status"]
            self._on_update(Update(self.record))


async def _follow_all(client: Client, trackers: list[_Tracker], timeout: float | None, poll: float) -> None:
    limits = httpx.Timeout(30.0, connect=5.0, read=STREAM_READ_TIMEOUT)
    async with httpx.AsyncClient(
        base_url=client.server, headers=client.headers, timeout=limits, verify=client.verify
    ) as http:
        tasks = [asyncio.create_task(_follow_one(http, client.server, t, poll)) for t in trackers]
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*tasks)
        except TimeoutError:
            raise FollowTimeout([t.record for t in trackers], timeout or 0) from None
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _follow_one(http: httpx.AsyncClient, server: str, tracker: _Tracker, poll: float) -> None:
    if tracker.done:
        return
    try:
        if await _stream(http, server, tracker):
            return
    except httpx.TransportError:
        pass  # the stream dropped: carry on by polling, which says whether the server is still there
    while True:
        with mapped_errors(server):
            response = await http.get(f"{_path(tracker)}/events", params={"after": tracker.after})
        page = check(response, server)
        tracker.page(page["record"], page["items"])
        if tracker.done:
            return
        await asyncio.sleep(poll)


async def _stream(http: httpx.AsyncClient, server: str, tracker: _Tracker) -> bool:
    """Follow the record's event stream; True once it ended with the record terminal."""
    async with http.stream(
        "GET",
        f"{_path(tracker)}/events/stream",
        params={"after": tracker.after},
        headers={"Accept": "text/event-stream"},
    ) as response:
        if response.status_code != 200:
            await response.aread()
            check(response, server)
            return False
        parser = SSEParser()
        async for line in response.aiter_lines():
            message = parser.feed(line)
            if message is None:
                continue
            name, data = message
            if name == "event":
                tracker.event(json.loads(data))
            elif name in ("record", "end"):
                tracker.status(json.loads(data))
                if name == "end":
                    return True
    return False


def _path(tracker: _Tracker) -> str:
    return f"/v1/records/{quote(str(tracker.record['id']), safe='')}"
