"""`cloudfauj logs`: what happened, as lines.

logs deployment|record ID [--follow]         a record's event log (the reconciliation's own steps)
logs app NAME [--env ENV] [--follow] [--since 10m]
                                             what an application's tasks wrote to CloudWatch Logs: one
                                             `TASK-ID message` line each, every task's interleaved by time

The subcommands are kinds and answer to the other forms of their names too (`deploy`, `records`,
`apps`, ...), as `logs KIND ID` did before `logs app` joined them. Following an app's logs is polling: every
`POLL_SECONDS` the server is asked for the lines after its previous answer's cursor, until Ctrl-C.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from time import sleep
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import typer

from cloudfauj.cli.client import Client
from cloudfauj.cli.commands.common import InputError, OutputOpt, ServerOpt, TokenOpt, connect
from cloudfauj.cli.commands.get import fetch_one, show_logs
from cloudfauj.cli.output import Format, emit, notice

__all__ = ["POLL_SECONDS", "register"]

POLL_SECONDS = 1.0  # how often `logs app --follow` asks for new lines
PAGE_LINES = 1000  # lines per request; the server says when there are more at once

group = typer.Typer(
    name="logs",
    no_args_is_help=True,
    help="Print a record's event log, or what an application's tasks wrote.",
)

F = TypeVar("F", bound=Callable[..., Any])


def _command(name: str, *aliases: str) -> Callable[[F], F]:
    """A subcommand that also answers to the other forms of its kind's name, unlisted in the help."""

    def add(function: F) -> F:
        group.command(name)(function)
        for alias in aliases:
            group.command(alias, hidden=True)(function)
        return function

    return add


IdArg = Annotated[str, typer.Argument(metavar="ID")]
FollowOpt = Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the record ends.")]


@_command("deployment", "deployments", "deploys", "deploy")
def logs_deployment(
    record_id: IdArg,
    follow_: FollowOpt = False,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Print a deployment's event log: TIMESTAMP  TYPE  message."""
    raise typer.Exit(
        show_logs("Deployment", record_id, follow_=follow_, output=output, server=server, token=token)
    )


@_command("record", "records", "recs", "rec")
def logs_record(
    record_id: IdArg,
    follow_: FollowOpt = False,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Print a record's event log: TIMESTAMP  TYPE  message."""
    raise typer.Exit(
        show_logs("Record", record_id, follow_=follow_, output=output, server=server, token=token)
    )


@_command("app", "apps", "application", "applications")
def logs_app(
    name: Annotated[str, typer.Argument(help="The application's name.")],
    env: Annotated[
        str | None,
        typer.Option("--env", help="Its environment (needed when several have an app of that name)."),
    ] = None,
    follow_: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="DURATION", help="Only lines of the last 30s, 10m, 2h, 1d... [default: all]"
        ),
    ] = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Print what an application's tasks wrote: TASK-ID message, every task's lines interleaved by time."""
    _check_since(since)
    if follow_ and output is Format.yaml:
        raise InputError("--follow prints lines as they come: use -o table or -o json (one object a line).")
    collect = output is not Format.table and not follow_  # then one JSON/YAML document of every line
    lines: list[dict[str, Any]] = []
    with connect(server, token) as client:
        env = env or fetch_one(client, "Application", name, None)["metadata"]["env"]
        path = f"/v1/environments/{quote(env, safe='')}/applications/{quote(name, safe='')}/logs"
        try:
            count = _read(
                client,
                path,
                since=since,
                follow_=follow_,
                on_line=lines.append if collect else lambda line: _print(line, output),
            )
        except KeyboardInterrupt:
            if not follow_:
                raise
            return  # Ctrl-C is how following ends
    if collect:
        emit(lines, output)
    elif count == 0:
        notice(f"No log lines from application {env}/{name}" + (f" in the last {since}." if since else "."))


def _check_since(since: str | None) -> None:
    # Imported here: cloudfauj.logs reads AWS through the gateway, and loading boto3 would slow every
    # other command down.
    from cloudfauj.logs import SINCE_FORMAT, parse_since

    if since is not None and parse_since(since) is None:
        raise InputError(f"--since must be {SINCE_FORMAT}; got '{since}'.")


def _read(
    client: Client,
    path: str,
    *,
    since: str | None,
    follow_: bool,
    on_line: Callable[[dict[str, Any]], None],
) -> int:
    """Hand every line to `on_line`, page after page, and say how many; with `follow_`, poll for new
    lines until interrupted."""
    cursor, count = None, 0
    while True:
        page = client.get(path, since=since, cursor=cursor, limit=PAGE_LINES)
        cursor = page["next_cursor"]
        for line in page["items"]:
            on_line(line)
        count += len(page["items"])
        if page["more"]:
            continue
        if not follow_:
            return count
        sleep(POLL_SECONDS)


def _print(line: dict[str, Any], output: Format) -> None:
    if output is Format.json:
        typer.echo(json.dumps(line))
    else:
        typer.echo(f"{line['task_id']} {str(line['message']).rstrip()}")


def register(app: typer.Typer) -> None:
    app.add_typer(group)
