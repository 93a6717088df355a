"""`describe`'s text: one object (or one record) laid out for people, kubectl-style.

With `-o json|yaml` the same facts are printed as data instead: `{"object": ..., "records": [...]}`.
"""

from __future__ import annotations

from typing import Any

import typer

from cloudfauj.cli.output import Format, duration, emit, event_line, table, to_yaml, when

__all__ = ["describe_object", "describe_record"]

Row = dict[str, Any]


def describe_object(obj: Row, records: list[Row], fmt: Format) -> None:
    if fmt is not Format.table:
        emit({"object": obj, "records": records}, fmt)
        return
    meta, status = obj["metadata"], obj["status"]
    fields = [("Kind", obj["kind"]), ("Name", meta["name"])]
    if obj["kind"] == "Application":
        fields.append(("Environment", meta.get("env")))
    fields += [
        ("Generation", f"{meta['generation']} (observed {status.get('observed_generation', 0)})"),
        ("Phase", status.get("phase")),
        ("Message", status.get("message")),
        ("Created", when(meta.get("created_at"))),
        ("Updated", when(meta.get("updated_at"))),
    ]
    out = [_fields(fields), "Spec:", _indent(_yaml(obj["spec"]))]
    out += ["Conditions:", _indent(_conditions(status.get("conditions") or []))]
    out += ["Outputs:", _indent(_yaml(status["outputs"]) if status.get("outputs") else "<none>")]
    out += ["Recent records:", _indent(_records(records))]
    if records:
        last = records[0]
        out += [
            f"Events of record {last['id']} ({last['status']}):",
            _indent(_events(last.get("events") or [])),
        ]
    typer.echo("\n".join(out))


def describe_record(record: Row, fmt: Format) -> None:
    if fmt is not Format.table:
        emit(record, fmt)
        return
    fields = [
        ("ID", record["id"]),
        ("Kind", record["kind"]),
        ("Name", record["name"]),
        ("Environment", record.get("env")),
        ("Image", record.get("image")),
        ("Image digest", record.get("image_digest")),
        ("Generation", record["generation"]),
        ("Status", record["status"]),
        ("Reason", record.get("reason")),
        ("Cause", record["cause"]),
        ("Initiator", record.get("initiator")),
        ("Source", record.get("source")),
        ("Created", when(record["created_at"])),
        ("Started", when(record.get("started_at"))),
        ("Finished", when(record.get("finished_at"))),
        ("Duration", duration(record.get("duration_seconds"))),
        ("Deadline", when(record.get("deadline"))),
        ("AWS calls", _calls(record.get("aws_calls") or {})),
    ]
    out = [
        _fields(fields),
        "Spec:",
        _indent(_yaml(record.get("spec") or {})),
        "Events:",
        _indent(_events(record.get("events") or [])),
    ]
    typer.echo("\n".join(out))


def _calls(calls: dict[str, int]) -> str | None:
    """`23 (ecs:DescribeServices 5, …)`: what the record cost in AWS call attempts, retries included."""
    if not calls:
        return None
    top = sorted(calls.items(), key=lambda kv: (-kv[1], kv[0]))
    return f"{sum(calls.values())} ({', '.join(f'{k} {v}' for k, v in top)})"


def _fields(pairs: list[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in pairs) + 2
    return "\n".join(f"{k + ':':<{width}}{'-' if v is None or v == '' else v}" for k, v in pairs)


def _yaml(data: Any) -> str:
    return to_yaml(data).rstrip("\n") if data else "<none>"


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


def _conditions(conditions: list[Row]) -> str:
    if not conditions:
        return "<none>"
    # MESSAGE last: it is the long one, and the columns before it stay aligned.
    rows = [
        [str(c.get(k) or "-") for k in ("type", "status", "reason")]
        + [when(c.get("last_transition")) or "-", str(c.get("message") or "-")]
        for c in conditions
    ]
    return table(["TYPE", "STATUS", "REASON", "LAST TRANSITION", "MESSAGE"], rows)


def _records(records: list[Row]) -> str:
    if not records:
        return "<none>"
    rows = [
        [
            r["id"],
            r["status"],
            r["cause"],
            when(r["created_at"]) or "-",
            duration(r.get("duration_seconds")) or "-",
            r.get("reason") or "-",
        ]
        for r in records
    ]
    return table(["ID", "STATUS", "CAUSE", "CREATED", "DURATION", "REASON"], rows)


def _events(events: list[Row]) -> str:
    return "\n".join(event_line(e) for e in events) if events else "<none>"
