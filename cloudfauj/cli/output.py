"""What the CLI prints: results on stdout (aligned columns, JSON or YAML) and progress on stderr.

Results are for people by default and for machines with `-o json|yaml`: with `-o json`, stdout holds
exactly one JSON document, whatever else happens. Progress, notices and errors go to stderr: live (rich)
on a terminal, plain lines when stderr is not a terminal or NO_COLOR is set, so CI logs stay readable.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from io import StringIO
from typing import Any

import typer
from rich.console import Console
from rich.status import Status
from rich.text import Text
from ruamel.yaml import YAML

from cloudfauj.cli.follow import Update

__all__ = [
    "COLUMNS",
    "Format",
    "Progress",
    "age",
    "duration",
    "emit",
    "event_line",
    "label",
    "notice",
    "status_sentence",
    "table",
    "to_yaml",
    "when",
]


class Format(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


Row = dict[str, Any]
Column = tuple[str, Callable[[Row], Any]]


def label_name(record: Row) -> str:
    return f"{record['env']}/{record['name']}" if record["kind"] == "Application" else str(record["name"])


def label(record: Row) -> str:
    """How progress names the object a record is about: `application staging/web`."""
    return f"{str(record['kind']).lower()} {label_name(record)}"


def _meta(key: str) -> Callable[[Row], Any]:
    return lambda o: o["metadata"].get(key)


COLUMNS: dict[str, list[Column]] = {
    "Environment": [
        ("NAME", _meta("name")),
        ("PHASE", lambda o: o["status"]["phase"]),
        ("GEN", _meta("generation")),
        ("AGE", lambda o: age(o["metadata"]["created_at"])),
    ],
    "Application": [
        ("ENV", _meta("env")),
        ("NAME", _meta("name")),
        ("IMAGE", lambda o: o["spec"].get("image")),
        ("PHASE", lambda o: o["status"]["phase"]),
        # a private app's name inside its environment's VPC, where a public one has a URL
        (
            "URL",
            lambda o: (
                (o["status"].get("outputs") or {}).get("url")
                or (o["status"].get("outputs") or {}).get("internal_name")
            ),
        ),
    ],
    "Domain": [("NAME", _meta("name")), ("PHASE", lambda o: o["status"]["phase"])],
    "Deployment": [
        ("ID", lambda r: r["id"]),
        ("APP", lambda r: r["app"]),
        ("ENV", lambda r: r["env"]),
        ("IMAGE", lambda r: r["image"]),
        ("STATUS", lambda r: r["status"]),
        ("CAUSE", lambda r: r["cause"]),
        ("CREATED", lambda r: when(r["created_at"])),
        ("DURATION", lambda r: duration(r.get("duration_seconds"))),
    ],
    "Record": [
        ("ID", lambda r: r["id"]),
        ("KIND", lambda r: r["kind"]),
        ("NAME", label_name),
        ("STATUS", lambda r: r["status"]),
        ("CAUSE", lambda r: r["cause"]),
        ("CREATED", lambda r: when(r["created_at"])),
    ],
    "Source": [
        ("NAME", lambda s: s["name"]),
        ("PATH", lambda s: s["path"]),
        ("STATUS", lambda s: s["status"]),
        ("APPLIED", lambda s: (s["applied_revision"] or "")[:12] or None),
        ("OBJECTS", lambda s: len(s["objects"])),
        ("ERROR", lambda s: s["error"]),
    ],
}


# -- stdout ------------------------------------------------------------------------------------------
def emit(data: Any, fmt: Format, columns: Sequence[Column] | None = None) -> None:
    """Print a result: a row (dict) or rows (list) as columns, or any value as JSON/YAML."""
    if fmt is Format.json:
        typer.echo(json.dumps(data, indent=2))
    elif fmt is Format.yaml:
        typer.echo(to_yaml(data), nl=False)
    else:
        assert columns is not None, "table output needs columns"
        rows = data if isinstance(data, list) else [data]
        typer.echo(table([c[0] for c in columns], [[_cell(get(r)) for _, get in columns] for r in rows]))


def to_yaml(data: Any) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 1 << 16  # never fold long values (ARNs, reasons) onto a second line
    buffer = StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain aligned columns, like kubectl: never truncated, never wrapped."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [
        "   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in [list(headers), *rows]
    ]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


# -- time --------------------------------------------------------------------------------------------
def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def when(ts: str | None) -> str | None:
    """An RFC 3339 timestamp to the second, for tables: `2026-11-25 19:02:43`."""
    return _parse(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else None


def age(ts: str | None, now: datetime | None = None) -> str | None:
    if not ts:
        return None
    seconds = max(0, int(((now or datetime.now(UTC)) - _parse(ts)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def event_line(event: Row) -> str:
    """`TIMESTAMP  TYPE  message`, plus an AWS mutation's action, resource and request id where the
    message does not already say them."""
    message = str(event["message"])
    extra = [str(event[k]) for k in ("action", "resource") if event.get(k) and str(event[k]) not in message]
    if event.get("request_id"):
        extra.append(f"request {event['request_id']}")
    text = f"{message}  [{' '.join(extra)}]" if extra else message
    return f"{event['at']}  {event['type']:<8} {text}"


# -- stderr ------------------------------------------------------------------------------------------
def notice(text: str) -> None:
    typer.echo(text, err=True)


def _live_terminal() -> Console | None:
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    return console if console.is_terminal and not os.environ.get("NO_COLOR") else None


class Progress:
    """Live progress of followed records on stderr: one line per event or status change."""

    STYLES = {
        "succeeded": "green",
        "failed": "bold red",
        "superseded": "yellow",
        "cancelled": "yellow",
        "error": "red",
        "warning": "yellow",
    }

    def __init__(self, waiting_for: int) -> None:
        self._console = _live_terminal()
        self._status: Status | None = None
        self._waiting_for = waiting_for

    def __enter__(self) -> Progress:
        if self._console is not None:
            self._status = self._console.status(f"Waiting for {self._waiting_for} record(s)...")
            self._status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()

    def __call__(self, update: Update) -> None:
        record, event = update.record, update.event
        if event is not None:
            stamp = event["at"][11:19]
            self._line(f"{stamp} {label(record)}: {event['message']}", self.STYLES.get(event["type"]))
        else:
            self._line(status_sentence(record), self.STYLES.get(record["status"]))

    def _line(self, text: str, style: str | None) -> None:
        if self._console is None:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
        else:
            self._console.print(Text(text, style=style or ""))


def status_sentence(record: Row) -> str:
    what, status = label(record), record["status"]
    if status == "pending":
        return f"{what}: record {record['id']} is pending"
    if status == "in_progress":
        return f"{what}: record {record['id']} in progress"
    if status == "succeeded":
        took = duration(record.get("duration_seconds"))
        return f"{what}: succeeded" + (f" in {took}" if took else "")
    return f"{what}: {status}" + (f": {record['reason']}" if record.get("reason") else "")
