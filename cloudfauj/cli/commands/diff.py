"""`cloudfauj diff`: what `apply` of the same files would change, per AWS resource, without changing it.

The server validates the files exactly as for an apply and asks each object's controller for its plan
(observe and diff only): nothing is stored, no record is opened, AWS is only read. Exit codes follow
`kubectl diff`: 0 nothing would change, 1 something would, 2 invalid input, 3 server unreachable or the
token refused (the last two through `commands.common.EXIT_CODES`, like every command).
"""

from __future__ import annotations

import typer

from cloudfauj.cli import diffs
from cloudfauj.cli.commands.apply import (
    DEFAULT_FILE,
    EnvOpt,
    FilesOpt,
    ImageOpt,
    VarOpt,
    parse_vars,
    read_sources,
)
from cloudfauj.cli.commands.common import OutputOpt, ServerOpt, TokenOpt, connect
from cloudfauj.cli.output import Format

__all__ = ["register"]

NO_CHANGES, CHANGES = 0, 1


def diff(
    files: FilesOpt = None,
    env: EnvOpt = None,
    image: ImageOpt = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
    var: VarOpt = None,
) -> None:
    """Show what applying the manifests would change in AWS (exit 1 when anything would)."""
    body = {
        "sources": read_sources(files or [DEFAULT_FILE]),
        "env": env,
        "image": image,
        "variables": parse_vars(var) or None,
    }
    with connect(server, token) as client:
        result = diffs.request(client, body)
    diffs.show(result, output)
    raise typer.Exit(CHANGES if result["changed"] else NO_CHANGES)


def register(app: typer.Typer) -> None:
    app.command()(diff)
