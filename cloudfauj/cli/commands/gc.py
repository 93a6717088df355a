"""`cloudfauj gc`: AWS resources carrying this installation's tag that no live object owns.

The orphans go to stdout: a table (KIND, ENV, APP, DOMAIN, TYPE, ARN), or with `-o json|yaml` the server's
answer `{"dry_run", "orphans", "records"}` (the records as they ended). With `--dry-run` that is all, and
the command exits 0. Otherwise the server opens a record that deletes them (`controllers/gc.py`) and the
command follows it like `apply`: exit 0 when it succeeded, 1 when it did not, 4 when `--timeout` came first.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cloudfauj.cli.commands.common import (
    FAILED,
    INTERRUPTED,
    SUCCEEDED,
    OutputOpt,
    ServerOpt,
    TimeoutOpt,
    TokenOpt,
    WaitOpt,
    connect,
)
from cloudfauj.cli.follow import FollowTimeout, follow
from cloudfauj.cli.output import Column, Format, Progress, emit, notice

__all__ = ["register"]

ORPHAN_COLUMNS: list[Column] = [
    ("KIND", lambda o: o["kind"]),
    ("ENV", lambda o: o["env"]),
    ("APP", lambda o: o["app"]),
    ("DOMAIN", lambda o: o["domain"]),
    ("TYPE", lambda o: o["type"]),
    ("ARN", lambda o: o["arn"]),
]


def gc(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list the orphaned resources; delete nothing.")
    ] = False,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """List (and without --dry-run delete) AWS resources with our tag that no live object owns."""
    with connect(server, token) as client:
        result = client.post("/v1/gc", {"dry_run": dry_run})
        _show_orphans(result, output)
        records: list[dict[str, Any]] = result["records"]
        for record in records:
            notice(f"Deleting {len(result['orphans'])} orphaned resource(s): record {record['id']}.")
        if records and wait:
            try:
                with Progress(len(records)) as progress:
                    records = follow(client, records, progress, timeout=timeout)
            except FollowTimeout as e:
                _show_result(result, e.records, output)
                raise
            except KeyboardInterrupt:
                notice("Stopped following; the deletion goes on on the server (see `cloudfauj get records`).")
                raise typer.Exit(INTERRUPTED) from None
        _show_result(result, records, output)
    failed = wait and any(r["status"] != "succeeded" for r in records)
    raise typer.Exit(FAILED if failed else SUCCEEDED)


def _show_orphans(result: dict[str, Any], fmt: Format) -> None:
    if fmt is not Format.table:
        return
    orphans = result["orphans"]
    if not orphans:
        notice("No orphaned AWS resources: everything carrying our tag belongs to a live object.")
        return
    emit(orphans, fmt, ORPHAN_COLUMNS)
    if result["dry_run"]:
        notice(f"{len(orphans)} orphaned resource(s); `cloudfauj gc` deletes them.")


def _show_result(result: dict[str, Any], records: list[dict[str, Any]], fmt: Format) -> None:
    if fmt is not Format.table:
        emit({**result, "records": records}, fmt)


def register(app: typer.Typer) -> None:
    app.command()(gc)
