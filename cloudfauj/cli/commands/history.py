"""Acting on history: `rollback`, `cancel` and `reconcile`.

Each opens (or stops) a record on the server and, like `apply`, follows it by default and exits on its
outcome: 0 when it did what was asked, 1 when it did not, 4 when `--timeout` came first.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from cloudfauj.cli.commands.common import (
    OutputOpt,
    ServerOpt,
    TimeoutOpt,
    TokenOpt,
    WaitOpt,
    connect,
    finish,
    kind_of,
    object_path,
)
from cloudfauj.cli.output import Format, label, notice

__all__ = ["register"]

SourceOpt = Annotated[
    str | None, typer.Option("--source", show_default=False, help="Why, or where from (free text).")
]


def rollback(
    app: Annotated[str, typer.Argument(help="The application.")],
    env: Annotated[str, typer.Option("--env", help="Its environment.")],
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="DEPLOYMENT_ID",
            show_default=False,
            help="The deployment to go back to [default: the last succeeded one before the current].",
        ),
    ] = None,
    source: SourceOpt = None,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Deploy an earlier deployment's spec again (image digest, size, replicas) as a new deployment."""
    with connect(server, token) as client:
        body = {k: v for k, v in {"to": to, "source": source}.items() if v is not None}
        result = client.post(f"{object_path('Application', app, env)}/rollback", body)
        target = result["target"]
        for record in result["records"]:
            notice(
                f"{label(record)}: rolling back to deployment {target['id']} ({target.get('image') or '-'}), "
                f"record {record['id']}"
            )
        raise typer.Exit(finish(client, result["records"], wait=wait, timeout=timeout, fmt=output))


def cancel(
    kind: Annotated[str, typer.Argument(help="deployment (or record).")],
    record_id: Annotated[str, typer.Argument(metavar="ID")],
    wait: WaitOpt = True,
    timeout: TimeoutOpt = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Stop an in-progress deployment; its service returns to the last good revision."""
    kind_of(kind, ("Deployment", "Record"))
    with connect(server, token) as client:
        records = client.post(f"/v1/records/{quote(record_id, safe='')}/cancel", {})["records"]
        for record in records:
            notice(f"{label(record)}: cancel requested (record {record['id']})")
        code = finish(client, records, wait=wait, timeout=timeout, fmt=output, success=("cancelled",))
        raise typer.Exit(code)


def reconcile(
    kind: Annotated[str, typer.Argument(help="environment, application or domain.")],
    name: Annotated[str, typer.Argument()],
    env: Annotated[str | None, typer.Option("--env", help="The application's environment.")] = None,
    source: SourceOpt = None,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Compare an object with AWS now; correct drift (or only report it, under drift policy `report`)."""
    path = object_path(kind_of(kind, ("Environment", "Application", "Domain")), name, env)
    with connect(server, token) as client:
        body = {"source": source} if source else {}
        records = client.post(f"{path}/reconcile", body)["records"]
        for record in records:
            notice(f"{label(record)}: reconciling (record {record['id']})")
        raise typer.Exit(finish(client, records, wait=wait, timeout=timeout, fmt=output))


def register(app: typer.Typer) -> None:
    app.command()(rollback)
    app.command()(cancel)
    app.command()(reconcile)
