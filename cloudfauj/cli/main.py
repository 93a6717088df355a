"""`cloudfauj`: the command line (typer). `main()` is the console script.

Errors reach the user as sentences on stderr, never as tracebacks: the root group turns the errors
commands raise into `Error: ...` lines and the exit code from `commands.common.EXIT_CODES`, and
`main()` is the last resort for anything else (a bug: reported in one sentence, exit 1).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cloudfauj.cli.commands import apply, diff, gc, get, history, local, logs, tokens, upstream
from cloudfauj.cli.commands.common import CA_BUNDLE, EXIT_CODES, ROOT_FLAGS, error_lines

__all__ = ["app", "main"]


class _Root(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _take_ca_bundle(args))

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except tuple(cls for cls, _ in EXIT_CODES) as e:
            for line in error_lines(e):
                typer.echo(f"Error: {line}", err=True)
            raise typer.Exit(next(code for cls, code in EXIT_CODES if isinstance(e, cls))) from None


app = typer.Typer(
    cls=_Root,
    name="cloudfauj",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain usage errors: one readable line in CI logs, not a box
    help="Ship containers to AWS ECS Fargate without writing infrastructure. Against an https server "
    "whose certificate a private CA signed, add --ca-bundle FILE (env CLOUDFAUJ_CA_BUNDLE) anywhere.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            "--server-addr",
            metavar="URL",
            show_default=False,
            help="Server URL for any command (also accepted after it).",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", show_default=False, help="API token for any command (also accepted after it)."
        ),
    ] = None,
) -> None:
    # Upstream's --server-addr was a persistent flag, so it may also come before the command.
    ROOT_FLAGS.set({"server": server, "token": token})


def _take_ca_bundle(args: list[str]) -> list[str]:
    """Take `--ca-bundle FILE` (or `--ca-bundle=FILE`) from anywhere before `--` into CA_BUNDLE.

    It is accepted before and after the command name like --server and --token, but only `connect()`
    uses it, so it is read here once instead of being added to every command's signature."""
    rest: list[str] = []
    found: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg.startswith("--ca-bundle="):
            found = arg.partition("=")[2]
        elif arg == "--ca-bundle" and i + 1 < len(args):
            found = args[i + 1]
            i += 1
        else:  # (a trailing --ca-bundle without a value is left for the parser to call a usage error)
            rest.append(arg)
        i += 1
    CA_BUNDLE.set(found)
    return rest


apply.register(app)
diff.register(app)
get.register(app)
logs.register(app)
history.register(app)
upstream.register(app)
local.register(app)
tokens.register(app)
gc.register(app)


def main() -> None:
    try:
        app()
    except Exception as e:  # noqa: BLE001 - the CLI's last resort: a bug must not print a traceback
        typer.echo(
            f"Error: cloudfauj failed unexpectedly ({type(e).__name__}: {e}); please report it.", err=True
        )
        sys.exit(1)
