"""What every command shares: the connection and output options, kind names, waiting on records, and
the one table from errors to exit codes (ARCHITECTURE §6).

Exit codes: 0 success; 1 a record failed (or was superseded/cancelled); 2 invalid input or usage, or a
request the server refused (400/404/409/413/422); 3 the server is unreachable, failed, or refused the
token; 4 `--timeout` passed while the work still runs on the server.
"""

from __future__ import annotations

import os
import re
import ssl
from contextvars import ContextVar
from typing import Annotated, Any
from urllib.parse import quote

import typer

from cloudfauj.cli.client import DEFAULT_SERVER, Client, Refused, Rejected, ServerFailed, Unreachable
from cloudfauj.cli.follow import FollowTimeout, follow
from cloudfauj.cli.output import COLUMNS, Format, Progress, emit, notice
from cloudfauj.errors import InvalidInput
from cloudfauj.userconfig import ConfigError

__all__ = [
    "CA_BUNDLE",
    "EXIT_CODES",
    "InputError",
    "OutputOpt",
    "PATHS",
    "ROOT_FLAGS",
    "ServerOpt",
    "TimeoutOpt",
    "TokenOpt",
    "WaitOpt",
    "connect",
    "error_lines",
    "finish",
    "kind_of",
    "object_path",
]

SUCCEEDED, FAILED, INVALID, UNREACHABLE, TIMED_OUT, INTERRUPTED = 0, 1, 2, 3, 4, 130


class InputError(Exception):
    """Something the user gave the CLI itself is wrong (a file, a flag combination)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lines = [message]


EXIT_CODES: list[tuple[type[Exception], int]] = [
    (InputError, INVALID),
    (InvalidInput, INVALID),  # settings of `cloudfauj server`
    (ConfigError, INVALID),  # the user's config file (tokens) cannot be read
    (Rejected, INVALID),
    (Unreachable, UNREACHABLE),
    (Refused, UNREACHABLE),
    (ServerFailed, UNREACHABLE),
    (FollowTimeout, TIMED_OUT),
]


def error_lines(error: Exception) -> list[str]:
    if isinstance(error, InvalidInput):
        return [p.sentence() for p in error.problems]
    return list(getattr(error, "lines", [str(error)]))


# -- options, accepted after the command name (kubectl style) --------------------------------------
ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        "--server-addr",
        metavar="URL",
        show_default=False,
        help=f"Cloudfauj server URL [env: CLOUDFAUJ_SERVER; default: {DEFAULT_SERVER}].",
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", metavar="TOKEN", show_default=False, help="API token [env: CLOUDFAUJ_TOKEN]."),
]
OutputOpt = Annotated[
    Format, typer.Option("-o", "--output", case_sensitive=False, help="table, json or yaml.")
]
WaitOpt = Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the records opened until they end.")]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0,
        metavar="SECONDS",
        show_default=False,
        help="Stop waiting after this long (exit 4); the work goes on on the server.",
    ),
]


# `--server`/`--token` given before the command name (set by the root callback on every invocation).
ROOT_FLAGS: ContextVar[dict[str, str | None] | None] = ContextVar("ROOT_FLAGS", default=None)
# `--ca-bundle`, before or after the command name: main.py takes it from the arguments on every invocation.
CA_BUNDLE: ContextVar[str | None] = ContextVar("CA_BUNDLE", default=None)


def connect(server: str | None, token: str | None) -> Client:
    """A client for the server named by the flag, else the same flag before the command, else the env.

    The token likewise: `--token`, else `CLOUDFAUJ_TOKEN`, else the user's config file's token for the
    installation the server reports (looked up by the client when it first needs it)."""
    root = ROOT_FLAGS.get() or {}
    url = server or root.get("server") or os.environ.get("CLOUDFAUJ_SERVER") or DEFAULT_SERVER
    if not re.match(r"^https?://[^/\s]+", url):
        raise InputError(
            f"The server URL must start with http:// or https://, like {DEFAULT_SERVER}; got '{url}'."
        )
    given = token or root.get("token") or os.environ.get("CLOUDFAUJ_TOKEN") or None
    return Client(url, given, verify=_verify(), find_token=given is None)


def _verify() -> ssl.SSLContext | bool:
    """What an https server's certificate is checked against: --ca-bundle, else the system's CAs."""
    path = CA_BUNDLE.get() or os.environ.get("CLOUDFAUJ_CA_BUNDLE")
    if not path:
        return True
    try:
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise InputError(
            f"Cannot use the CA bundle '{path}' ({reason}); --ca-bundle and CLOUDFAUJ_CA_BUNDLE take a "
            "PEM file of the certificates to trust."
        ) from e


# -- kinds --------------------------------------------------------------------------------------------
_KIND_WORDS = {
    "Environment": ("environments", "environment", "envs", "env"),
    "Application": ("applications", "application", "apps", "app"),
    "Domain": ("domains", "domain", "doms", "dom"),
    "Deployment": ("deployments", "deployment", "deploys", "deploy"),
    "Record": ("records", "record", "recs", "rec"),
    "Source": ("sources", "source", "src"),
}
PATHS = {"Environment": "environments", "Application": "applications", "Domain": "domains"}


def kind_of(word: str, allowed: tuple[str, ...]) -> str:
    """`envs` → `Environment`, refusing kinds the command does not take."""
    for kind, words in _KIND_WORDS.items():
        if kind in allowed and word.lower() in (kind.lower(), *words):
            return kind
    choices = ", ".join(_KIND_WORDS[k][0] for k in allowed)
    raise InputError(f"'{word}' is not a kind this command takes; use one of: {choices}.")


def object_path(kind: str, name: str, env: str | None) -> str:
    if kind == "Application":
        if not env:
            raise InputError("An application is named by its environment too: pass --env ENV.")
        return f"/v1/applications/{quote(env, safe='')}/{quote(name, safe='')}"
    return f"/v1/{PATHS[kind]}/{quote(name, safe='')}"


# -- waiting on records --------------------------------------------------------------------------------
def finish(
    client: Client,
    records: list[dict[str, Any]],
    *,
    wait: bool,
    timeout: float | None,
    fmt: Format,
    success: tuple[str, ...] = ("succeeded",),
) -> int:
    """Follow `records` (with --wait), print them as results, and say what exit code they mean:
    0 when each ended with a status in `success`, else 1."""
    if not wait or not records:
        _results(records, fmt)
        return SUCCEEDED
    try:
        with Progress(len(records)) as progress:
            records = follow(client, records, progress, timeout=timeout)
    except FollowTimeout as e:
        _results(e.records, fmt)
        raise
    except KeyboardInterrupt:
        notice("Stopped following; the work goes on on the server (see `cloudfauj get records`).")
        raise typer.Exit(INTERRUPTED) from None
    _results(records, fmt)
    failed = [r for r in records if r["status"] not in success]
    if failed:
        notice(f"{len(failed)} of {len(records)} record(s) did not succeed.")
        return FAILED
    return SUCCEEDED


def _results(records: list[dict[str, Any]], fmt: Format) -> None:
    if fmt is Format.table and not records:
        return
    emit(records, fmt, COLUMNS["Record"])
