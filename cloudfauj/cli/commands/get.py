"""Reading state: `get` (lists and single objects), `describe` (for people) and a record's event log (for
`logs deployment|record`, whose commands are in logs.py).

Lists follow the API's pages until the end, unless `--limit` says how many rows to fetch. `get deployments
--watch` then polls every `WATCH_SECONDS` and prints a row for each new deployment and each status change.
"""

from __future__ import annotations

from time import sleep
from typing import Annotated, Any
from urllib.parse import quote

import typer

from cloudfauj.cli.client import Client, Rejected
from cloudfauj.cli.commands.common import (
    PATHS,
    InputError,
    OutputOpt,
    ServerOpt,
    TokenOpt,
    connect,
    kind_of,
    object_path,
)
from cloudfauj.cli.commands.describe import describe_object, describe_record
from cloudfauj.cli.follow import Update, follow
from cloudfauj.cli.output import COLUMNS, Column, Format, emit, event_line, notice, status_sentence

__all__ = ["fetch_one", "fetch_rows", "register", "show_logs", "watch_rows"]

ALL_KINDS = ("Environment", "Application", "Deployment", "Domain", "Record", "Source")
OBJECT_KINDS = ("Environment", "Application", "Domain")
# Which filters each listed kind takes; a filter that cannot apply is a mistake worth telling.
FILTERS = {
    "Environment": set(),
    "Domain": set(),
    "Application": {"env"},
    "Deployment": {"env", "app", "status"},
    "Record": {"env", "app", "of_kind", "status"},
    "Source": set(),
}

EnvOpt = Annotated[str | None, typer.Option("--env", help="Only this environment.")]

WATCH_SECONDS = 1.0  # how often `get --watch` asks again
# Rows compared on each poll of `--watch`: new records and status changes happen among the newest.
WATCH_WINDOW = 100
WATCHABLE = ("Deployment", "Record")


def get(
    kind: Annotated[str, typer.Argument(help="environments, applications, deployments, domains or records.")],
    name: Annotated[
        str | None, typer.Argument(help="One object's name (a record's or deployment's id).")
    ] = None,
    env: EnvOpt = None,
    app: Annotated[str | None, typer.Option("--app", help="Only this application's records.")] = None,
    of_kind: Annotated[str | None, typer.Option("--kind", help="Records of this kind only.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Records with this status only.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many rows.")] = None,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", "-w", help="Deployments and records: then print new rows and status changes."
        ),
    ] = False,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """List objects or records, newest records first, or show one; `sources`: the server's sync directory."""
    resolved = kind_of(kind, ALL_KINDS)
    filters = {"env": env, "app": app, "of_kind": of_kind, "status": status}
    wrong = [
        f"--{k.removeprefix('of_')}"
        for k, v in filters.items()
        if v is not None and k not in FILTERS[resolved]
    ]
    if wrong:
        raise InputError(f"`get {kind}` does not take {', '.join(wrong)}.")
    if watch:
        _check_watch(kind, resolved, name, output)
    with connect(server, token) as client:
        if name is not None:
            emit(fetch_one(client, resolved, name, env), output, COLUMNS[resolved])
            return
        if watch:
            raise typer.Exit(watch_rows(client, resolved, limit=limit, **filters))
        rows = fetch_rows(client, resolved, limit=limit, **filters)
    if output is Format.table and not rows:
        notice(f"No {PATHS.get(resolved, resolved.lower() + 's')} found.")
        return
    emit(rows, output, COLUMNS[resolved])


def describe(
    kind: Annotated[str, typer.Argument(help="environment, application, domain, deployment or record.")],
    name: Annotated[str, typer.Argument(help="The object's name (a record's or deployment's id).")],
    env: EnvOpt = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Show one object for people: spec, status, conditions, outputs, recent records and events."""
    resolved = kind_of(kind, tuple(k for k in ALL_KINDS if k != "Source"))
    with connect(server, token) as client:
        obj = fetch_one(client, resolved, name, env)
        if resolved in ("Deployment", "Record"):
            describe_record(obj, output)
            return
        records = client.get(
            "/v1/records", kind=resolved, name=name, env=obj["metadata"].get("env"), limit=5
        )["items"]
    describe_object(obj, records, output)


def show_logs(
    kind: str, record_id: str, *, follow_: bool, output: Format, server: str | None, token: str | None
) -> int:
    """Exit code: 0, or with --follow 1 when the record did not succeed."""
    with connect(server, token) as client:
        record = fetch_one(client, kind, record_id, None)
        events = list(record.pop("events", None) or [])
        if output is Format.table:
            for event in events:
                typer.echo(event_line(event))
        if not follow_:
            _emit_events(events, output)
            return 0

        def on_update(update: Update) -> None:
            if update.event is None:
                notice(status_sentence(update.record))
                return
            events.append(update.event)
            if output is Format.table:
                typer.echo(event_line(update.event))

        after = {record_id: events[-1]["seq"] if events else 0}
        (record,) = follow(client, [record], on_update, after=after)
    _emit_events(events, output)
    return 0 if record["status"] == "succeeded" else 1


def _emit_events(events: list[dict[str, Any]], output: Format) -> None:
    if output is not Format.table:
        emit(events, output)


def _check_watch(word: str, kind: str, name: str | None, output: Format) -> None:
    if kind not in WATCHABLE:
        raise InputError(f"`get {word}` does not take --watch; it follows deployments and records.")
    if name is not None:
        raise InputError(f"--watch follows a list; follow one record with `cloudfauj logs {word} {name} -f`.")
    if output is not Format.table:
        raise InputError("--watch prints table rows as they change; it does not take -o json or yaml.")


def watch_rows(client: Client, kind: str, *, limit: int | None, **filters: str | None) -> int:
    """Print the rows, then one more for every row that appears or changes status, until Ctrl-C (0)."""
    window = max(limit or 0, WATCH_WINDOW)
    try:
        rows = fetch_rows(client, kind, limit=None if limit is None else window, **filters)
        shown = _Rows(COLUMNS[kind])
        shown.print(rows[:limit])
        if not rows:
            notice(f"No {kind.lower()}s yet; watching for new ones (Ctrl-C to stop).")
        known = {r["id"]: r["status"] for r in rows}
        while True:
            sleep(WATCH_SECONDS)
            latest = fetch_rows(client, kind, limit=window, **filters)
            changed = [r for r in reversed(latest) if known.get(r["id"]) != r["status"]]  # oldest first
            shown.print(changed)
            known.update((r["id"], r["status"]) for r in changed)
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how watching ends


class _Rows:
    """Table rows printed a few at a time, under one header, in the columns the first rows set (STATUS
    wide enough for every status from the start, since that is the column that changes)."""

    AT_LEAST = {"STATUS": len("in_progress")}

    def __init__(self, columns: list[Column]) -> None:
        self.columns = columns
        self.widths: list[int] | None = None

    def print(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        cells = [
            ["-" if v is None or v == "" else str(v) for v in (get(r) for _, get in self.columns)]
            for r in rows
        ]
        if self.widths is None:
            headers = [c[0] for c in self.columns]
            self.widths = [
                max(len(h), self.AT_LEAST.get(h, 0), *(len(line[i]) for line in cells))
                for i, h in enumerate(headers)
            ]
            cells.insert(0, headers)
        for line in cells:
            typer.echo("   ".join(c.ljust(w) for c, w in zip(line, self.widths, strict=True)).rstrip())


def fetch_one(client: Client, kind: str, name: str, env: str | None) -> Any:
    if kind == "Source":
        found = [s for s in client.get("/v1/sources")["items"] if name in (s["name"], s["path"])]
        if not found:
            raise Rejected(404, "not_found", f"This server applies no source named '{name}'.")
        return found[0]
    if kind in ("Deployment", "Record"):
        return client.get(f"/v1/{kind.lower()}s/{quote(name, safe='')}")
    if kind == "Application" and not env:
        return _only_application(client, name)
    return client.get(object_path(kind, name, env))


def _only_application(client: Client, name: str) -> Any:
    """An application named without --env: fine while only one environment has one of that name."""
    found = [a for a in client.paginate("/v1/applications") if a["metadata"]["name"] == name]
    if len(found) == 1:
        return found[0]
    if not found:
        raise Rejected(404, "not_found", f"Application '{name}' does not exist in any environment.")
    envs = ", ".join(a["metadata"]["env"] for a in found)
    raise InputError(f"Application '{name}' exists in several environments ({envs}); pass --env ENV.")


def fetch_rows(
    client: Client,
    kind: str,
    *,
    limit: int | None,
    env: str | None = None,
    app: str | None = None,
    of_kind: str | None = None,
    status: str | None = None,
) -> list[Any]:
    if kind in OBJECT_KINDS:
        return client.paginate(f"/v1/{PATHS[kind]}", limit=limit, env=env)
    if kind == "Source":  # one per sync directory: not paged
        return list(client.get("/v1/sources")["items"])[:limit]
    if kind == "Deployment":
        return client.paginate("/v1/deployments", limit=limit, env=env, app=app, status=status)
    record_kind = kind_of(of_kind, OBJECT_KINDS) if of_kind else ("Application" if app else None)
    return client.paginate("/v1/records", limit=limit, kind=record_kind, env=env, name=app, status=status)


def register(app: typer.Typer) -> None:
    app.command()(get)
    app.command()(describe)
