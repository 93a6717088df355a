"""`cloudfauj token create|list|revoke`: the API tokens of an installation (an admin's business).

`token create` prints only the new secret on stdout (or `{"name", "role", "token"}` with `-o json`), so
`TOKEN=$(cloudfauj token create ci --role deployer)` works; the server shows a secret once, never again.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from urllib.parse import quote

import typer

from cloudfauj.cli.commands.common import OutputOpt, ServerOpt, TokenOpt, connect
from cloudfauj.cli.output import Column, Format, emit, notice, when

__all__ = ["register"]

token_app = typer.Typer(
    help="API tokens: create (the secret is shown once), list, revoke. Needs an admin token.",
    no_args_is_help=True,
)


class RoleChoice(StrEnum):
    viewer = "viewer"
    deployer = "deployer"
    admin = "admin"


COLUMNS: list[Column] = [
    ("NAME", lambda t: t["name"]),
    ("ROLE", lambda t: t["role"]),
    ("CREATED", lambda t: when(t["created_at"])),
    ("REVOKED", lambda t: when(t.get("revoked_at"))),
]


@token_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="A name for the token, e.g. ci-web; records show it.")],
    role: Annotated[
        RoleChoice,
        typer.Option(
            "--role",
            case_sensitive=False,
            help="viewer (reads), deployer (changes applications), admin (everything).",
        ),
    ],
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Create a token and print its secret (only the secret, so it can be captured)."""
    with connect(server, token) as client:
        created = client.post("/v1/tokens", {"name": name, "role": role.value})
    if output is Format.table:
        typer.echo(created["token"])
        notice(
            f"Created token '{created['name']}' with role {created['role']}. Its secret, above, is shown "
            "only now: store it (e.g. as a CI secret for CLOUDFAUJ_TOKEN)."
        )
    else:
        emit(created, output)


@token_app.command("list")
def list_tokens(output: OutputOpt = Format.table, server: ServerOpt = None, token: TokenOpt = None) -> None:
    """List tokens: names, roles, when created and revoked (never secrets)."""
    with connect(server, token) as client:
        rows = client.paginate("/v1/tokens")
    emit(rows, output, COLUMNS)


@token_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Revoke a token: from now on the server refuses it (the name stays taken)."""
    with connect(server, token) as client:
        revoked = client.delete(f"/v1/tokens/{quote(name, safe='')}")
    if output is Format.table:
        notice(f"Token '{revoked['name']}' is revoked (since {when(revoked['revoked_at'])}).")
    else:
        emit(revoked, output)


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
