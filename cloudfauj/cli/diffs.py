"""How `cloudfauj diff` and `apply --dry-run` show what an apply would change (`POST /v1/diff`'s answer).

For people: one line per object, then each AWS resource that would change, marked like a diff (`+`
create, `~` update, `-` delete), and each field `old -> new`; plain text, so CI logs read well (click
drops the colours when stdout is not a terminal, and so do we under NO_COLOR). For machines: the
document itself with `-o json|yaml`.

    application/web in staging: update
      ~ task-definition arn:aws:ecs:…:task-definition/cf-1a2b-staging-web:3
          cpu: 256 -> 512
      ~ service web
          desiredCount: 1 -> 2
"""

from __future__ import annotations

import json
import os
from typing import Any

import typer

from cloudfauj.cli.client import Client
from cloudfauj.cli.output import Format, emit

__all__ = ["render", "request", "show"]

SIGNS = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}
ABSENT = "(none)"


def request(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/diff` with an apply's body (fields left unset are not sent)."""
    answer: dict[str, Any] = client.post("/v1/diff", {k: v for k, v in body.items() if v is not None})
    return answer


def show(result: dict[str, Any], fmt: Format) -> None:
    """Print a diff on stdout: readable text, or the document as JSON/YAML."""
    if fmt is Format.table:
        typer.echo("\n".join(render(result)))
    else:
        emit(result, fmt)


def render(result: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for obj in result["objects"]:
        lines += _object(obj)
    changed = [o for o in result["objects"] if o["action"] != "unchanged"]
    if not changed:
        lines.append("Nothing would change.")
    else:
        unchanged = len(result["objects"]) - len(changed)
        lines.append(f"{len(changed)} object(s) would change, {unchanged} unchanged.")
    return lines


def _object(obj: dict[str, Any]) -> list[str]:
    what = f"{str(obj['kind']).lower()}/{obj['name']}" + (
        f" in {obj['env']}" if obj["kind"] == "Application" else ""
    )
    message = obj.get("message")
    if obj["action"] in ("waiting", "blocked"):  # the message says what would happen
        return [f"{what}: {message}"]
    lines = [f"{what}: {obj['action']}"]
    if message:
        lines.append(f"  note: {message}")
    for change in obj["changes"]:
        sign, colour = SIGNS.get(change["action"], ("~", "yellow"))
        lines.append("  " + _styled(f"{sign} {change['resource']}", colour))
        for f in change["fields"]:
            if change["action"] == "create" and f["old"] is None:
                lines.append(f"      {f['path']}: {_value(f['new'])}")
            else:
                lines.append(f"      {f['path']}: {_value(f['old'])} -> {_value(f['new'])}")
    return lines


def _styled(text: str, colour: str) -> str:
    return text if os.environ.get("NO_COLOR") else typer.style(text, fg=colour)


def _value(value: Any) -> str:
    if value is None:
        return ABSENT
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "))
