"""An application's own log lines: what its tasks wrote to CloudWatch Logs, read for `cloudfauj logs app`.

Where it sits: `Service.app_logs` finds the objects and calls `read_app_logs`, which reads through the AWS
gateway and never changes anything. An application's task definition logs with the awslogs driver to
its environment's log group with the app name as stream prefix (controllers/application.py), so each
task writes to a stream `<app>/<container>/<task-id>` and one `filter_log_events` over the prefix
`<app>/` reads every task at once, interleaved by time.

Following is polling with a `Cursor`: the next read starts at the newest millisecond already returned
and skips the events of that millisecond it has seen. That is how `aws logs tail --follow` resumes too;
lines written in the same millisecond are neither repeated nor skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudfauj.aws import AwsError, Gateway
from cloudfauj.errors import InvalidInput, Problem
from cloudfauj.manifests.names import shown
from cloudfauj.records import format_time
from controllers import naming

__all__ = [
    "SINCE_FORMAT",
    "Cursor",
    "log_group_of",
    "log_line",
    "parse_since",
    "read_app_logs",
    "stream_prefix",
]

SINCE_FORMAT = "a whole number and a unit, s, m, h or d (like 30s, 10m, 2h or 1d)"
# Bounded digit counts: `int()` of thousands of digits raises, and AWS takes no timestamp past 13 digits
# (milliseconds since the epoch); 12 digits of days is already longer than the epoch.
_SINCE_RE = re.compile(r"^([0-9]{1,12})([smhd])$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_CURSOR_RE = re.compile(r"^([0-9]{1,13}):((?:[0-9a-f]{12})(?:,[0-9a-f]{12})*)?$")

# One event as filter_log_events returns it: timestamp, eventId, logStreamName, message.
Event = dict[str, Any]


def parse_since(text: str) -> int | None:
    """`10m` as milliseconds; None when the text is not such a duration."""
    match = _SINCE_RE.match(text.strip())
    return int(match[1]) * _UNIT_MS[match[2]] if match else None


def _fingerprint(event_id: str) -> str:
    # AWS event ids are 56 digits; a cursor carries a short hash of each instead, so that a burst of lines
    # in one millisecond (a stack trace) still fits in a query string.
    return hashlib.sha256(event_id.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Cursor:
    """Where the next read starts: at `timestamp` (ms since the epoch, inclusive), skipping the events at
    exactly that millisecond already returned (`seen`: fingerprints of their ids)."""

    timestamp: int
    seen: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def starting(cls, since: str | None, *, now: datetime) -> Cursor:
        """The first read: every line (no `since`), or those of the last `since` (`10m`) before `now`."""
        if since is None:
            return cls(0)
        span = parse_since(since)
        if span is None:
            raise InvalidInput([Problem(f"must be {SINCE_FORMAT}; got {shown(since)}", field="since")])
        return cls(max(0, int(now.timestamp() * 1000) - span))

    @classmethod
    def decode(cls, text: str) -> Cursor:
        match = _CURSOR_RE.match(text)
        if match is None:
            message = "is not a cursor this server gave; pass a previous answer's next_cursor"
            raise InvalidInput([Problem(message, field="cursor")])
        return cls(int(match[1]), frozenset(match[2].split(",")) if match[2] else frozenset())

    def encode(self) -> str:
        return f"{self.timestamp}:{','.join(sorted(self.seen))}"

    def is_new(self, event: Event) -> bool:
        at = int(event["timestamp"])
        if at != self.timestamp:
            return at > self.timestamp
        return _fingerprint(event["eventId"]) not in self.seen

    def after(self, events: Iterable[Event]) -> Cursor:
        """The cursor once `events` (new ones, as `is_new` says) have been returned too."""
        events = list(events)
        if not events:
            return self
        newest = max(int(e["timestamp"]) for e in events)
        there = {_fingerprint(e["eventId"]) for e in events if int(e["timestamp"]) == newest}
        return Cursor(newest, (self.seen if newest == self.timestamp else frozenset()) | there)


def stream_prefix(app: str) -> str:
    """The awslogs stream prefix is the app name; the slash keeps app `web` from reading app `web2`."""
    return f"{app}/"


def log_group_of(app: dict[str, Any], env: dict[str, Any]) -> str:
    """The log group the app's tasks write to, as last observed, else the one its environment creates."""
    for obj in (app, env):
        group = obj.get("status", {}).get("outputs", {}).get("log_group")
        if group:
            return str(group)
    return naming.log_group(env["metadata"]["name"])


def log_line(event: Event) -> dict[str, Any]:
    """One event as the API answers it."""
    ms = int(event["timestamp"])
    at = datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)
    stream = str(event["logStreamName"])
    return {
        "timestamp": format_time(at),
        "task_id": stream.rsplit("/", 1)[-1],
        "stream": stream,
        "message": str(event["message"]),
    }


def read_app_logs(aws: Gateway, *, log_group: str, app: str, start: Cursor, limit: int) -> dict[str, Any]:
    """At most `limit` lines after `start`, oldest first; `more` when `limit` cut the answer short.

    A log group that does not exist yet (the environment is still being created) has no lines.
    """
    events, more = _new_events(aws, log_group, stream_prefix(app), start, limit)
    events.sort(key=lambda e: int(e["timestamp"]))  # stable: AWS's order within a millisecond stays
    return {
        "items": [log_line(e) for e in events],
        "next_cursor": start.after(events).encode(),
        "more": more,
    }


def _new_events(
    aws: Gateway, log_group: str, prefix: str, start: Cursor, limit: int
) -> tuple[list[Event], bool]:
    params: dict[str, Any] = {
        "logGroupName": log_group,
        "logStreamNamePrefix": prefix,
        "startTime": start.timestamp,
        # AWS always interleaves the streams by time and ignores this deprecated flag; moto does so only
        # when asked. A cursor is only right over events in time order, so ask.
        "interleaved": True,
    }
    found: list[Event] = []
    while len(found) < limit:
        try:
            page = aws.call("logs", "filter_log_events", **params, limit=limit - len(found))
        except AwsError as e:
            if e.code == "ResourceNotFoundException":
                return [], False
            raise
        found += [event for event in page.get("events", []) if start.is_new(event)]
        token = page.get("nextToken")
        if not token:
            return found, False
        params["nextToken"] = token  # pages may be empty while AWS searches on; keep asking
    return found, True
