"""Changing desired state: `apply`, `deploy` (upstream's form of apply) and `delete`.

Each sends one request, says on stderr what it changed, then by default follows every record it opened
until they end (live progress on stderr) and prints those records as its result.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from cloudfauj.cli import diffs
from cloudfauj.cli.client import Client
from cloudfauj.cli.commands.common import (
    SUCCEEDED,
    InputError,
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
from cloudfauj.manifests.workload import ENV_NAME

__all__ = ["apply_files", "delete_object", "register"]

DEFAULT_FILE = ".cloudfauj.yml"
STDIN = "-"
MAX_FILE_BYTES = 1 << 20  # the server reads no more of a file (manifests/limits.py), nor takes a larger body

FilesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "-f",
        "--filename",
        metavar="FILE",
        show_default=False,
        help=f"Manifest file, directory of .yml files, or - for stdin; repeatable [default: {DEFAULT_FILE}].",
    ),
]
EnvOpt = Annotated[
    str | None, typer.Option("--env", help="Target environment of upstream application files.")
]
ImageOpt = Annotated[str | None, typer.Option("--image", help="Image of upstream application files.")]
DeadlineOpt = Annotated[
    float | None,
    typer.Option(
        "--deadline",
        min=30,
        max=86400,
        metavar="SECONDS",
        show_default=False,
        help="Deadline of each record opened (server default: 15 min).",
    ),
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        show_default=False,
        help="Where this change comes from (default: the CI commit and run, if any).",
    ),
]
VarOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--var",
        metavar="KEY=VALUE",
        show_default=False,
        help="Set an environment variable of the applications applied (repeatable; over the file's).",
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Open records even for unchanged objects.")]
WatchOpt = Annotated[
    bool,
    typer.Option(
        "--watch", help="Apply again whenever the files change, printing each deployment; Ctrl-C stops."
    ),
]
DryRunOpt = Annotated[
    bool,
    typer.Option("--dry-run", help="Only show what would change (like `cloudfauj diff`); apply nothing."),
]


def apply(
    files: FilesOpt = None,
    env: EnvOpt = None,
    image: ImageOpt = None,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = None,
    deadline: DeadlineOpt = None,
    source: SourceOpt = None,
    force: ForceOpt = False,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
    dry_run: DryRunOpt = False,
    watch: WatchOpt = False,
    var: VarOpt = None,
) -> None:
    """Apply manifests (upstream files or kind-based documents) and wait for them to converge."""
    run = functools.partial(
        apply_files,
        files or [DEFAULT_FILE],
        env=env,
        image=image,
        variables=parse_vars(var),
        wait=wait,
        timeout=timeout,
        deadline=deadline,
        source=source,
        force=force,
        output=output,
        server=server,
        token=token,
        dry_run=dry_run,
    )
    if watch:
        from cloudfauj.cli.watch import watch_files  # loads watchfiles: only when asked for

        raise typer.Exit(watch_files(files or [DEFAULT_FILE], run))
    raise typer.Exit(run())


def deploy(
    image: Annotated[str, typer.Argument(help="The image to run, e.g. an ECR URI with a tag.")],
    env: Annotated[str, typer.Option("--env", help="Target environment.")],
    config: Annotated[str, typer.Option("--config", help="The application file.")] = DEFAULT_FILE,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = None,
    deadline: DeadlineOpt = None,
    source: SourceOpt = None,
    force: ForceOpt = False,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
    var: VarOpt = None,
) -> None:
    """Deploy IMAGE to an environment (upstream's command: apply --config FILE --env ENV --image IMAGE)."""
    code = apply_files(
        [config],
        env=env,
        image=image,
        variables=parse_vars(var),
        wait=wait,
        timeout=timeout,
        deadline=deadline,
        source=source,
        force=force,
        output=output,
        server=server,
        token=token,
    )
    raise typer.Exit(code)


def delete(
    kind: Annotated[str, typer.Argument(help="environment, application or domain.")],
    name: Annotated[str, typer.Argument()],
    env: Annotated[str | None, typer.Option("--env", help="The application's environment.")] = None,
    cascade: Annotated[
        bool, typer.Option("--cascade", help="Also delete an environment's applications.")
    ] = False,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Delete an object and everything Cloudfauj created in AWS for it."""
    code = delete_object(
        kind_of(kind, ("Environment", "Application", "Domain")),
        name,
        env=env,
        cascade=cascade,
        wait=wait,
        timeout=timeout,
        output=output,
        server=server,
        token=token,
    )
    raise typer.Exit(code)


def apply_files(
    files: list[str],
    *,
    env: str | None,
    image: str | None,
    wait: bool,
    timeout: float | None,
    deadline: float | None = None,
    source: str | None = None,
    force: bool = False,
    output: Format,
    server: str | None,
    token: str | None,
    after: Callable[[Client, dict[str, Any]], None] | None = None,
    dry_run: bool = False,
    variables: dict[str, str] | None = None,
) -> int:
    """The exit code of applying `files`; `after(client, result)` runs once the records are followed."""
    body = {
        "sources": read_sources(files),
        "env": env,
        "image": image,
        "deadline_seconds": deadline,
        "source": source if source is not None else ci_source(),
        "force": force,
        "variables": variables or None,
    }
    with connect(server, token) as client:
        if dry_run:  # the same body, answered with what it would change; nothing is applied
            diffs.show(diffs.request(client, body), output)
            return SUCCEEDED
        result = client.post("/v1/apply", {k: v for k, v in body.items() if v is not None})
        for line in summary(result):
            notice(line)
        code = finish(client, result["records"], wait=wait, timeout=timeout, fmt=output)
        if after is not None:
            after(client, result)
        return code


def delete_object(
    kind: str,
    name: str,
    *,
    env: str | None,
    cascade: bool,
    wait: bool,
    timeout: float | None,
    output: Format,
    server: str | None,
    token: str | None,
) -> int:
    with connect(server, token) as client:
        params = {"cascade": cascade} if kind != "Application" else {}
        records = client.delete(object_path(kind, name, env), **params)["records"]
        for record in records:
            notice(f"{label(record)}: deletion requested (record {record['id']})")
        return finish(client, records, wait=wait, timeout=timeout, fmt=output)


def parse_vars(given: list[str] | None) -> dict[str, str]:
    """`--var KEY=VALUE` flags as a mapping (the last of one name wins, as in a shell)."""
    variables: dict[str, str] = {}
    for item in given or []:
        key, sep, value = item.partition("=")
        if not sep or not ENV_NAME.fullmatch(key):
            raise InputError(
                f"--var {item!r} is not KEY=VALUE with an environment variable name as KEY "
                "(letters, digits and '_', not starting with a digit)."
            )
        variables[key] = value
    return variables


def read_sources(files: list[str]) -> list[dict[str, str]]:
    """Each file's text, named as the user named it; a directory stands for its .yml/.yaml files."""
    sources = []
    for given in files:
        if given == STDIN:
            sources.append({"name": "<stdin>", "content": sys.stdin.read()})
            continue
        path = Path(given)
        if path.is_dir():
            members = sorted(p for p in path.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())
            if not members:
                raise InputError(f"The directory {given} holds no .yml or .yaml file.")
            sources += [{"name": str(p), "content": _read(p)} for p in members]
        else:
            sources.append({"name": given, "content": _read(path)})
    return sources


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:  # said here, by name, rather than as the server's 413 for the request
            raise InputError(
                f"Cannot apply {path}: it has {size} bytes, and a manifest file may have at most "
                f"{MAX_FILE_BYTES} (1 MiB)."
            )
        data = path.read_bytes()
        return data.decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"Cannot read {path}: there is no such file.") from None
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise InputError(
            f"Cannot read {path}: line {line} is not UTF-8 text (byte {data[e.start]:#04x}); "
            "save the file as UTF-8."
        ) from None
    except OSError as e:
        raise InputError(f"Cannot read {path}: {e.strerror}.") from None


def summary(result: dict[str, Any]) -> list[str]:
    """kubectl-style lines: `environment/demo created`, `application/web in demo unchanged`."""
    lines = []
    for obj in result["objects"]:
        what = f"{obj['kind'].lower()}/{obj['name']}" + (
            f" in {obj['env']}" if obj["kind"] == "Application" else ""
        )
        if not obj["changed"]:
            lines.append(f"{what} unchanged")
        elif obj["generation"] == 1:
            lines.append(f"{what} created (record {obj['record_id']})")
        else:
            lines.append(f"{what} applied, generation {obj['generation']} (record {obj['record_id']})")
    return lines


def ci_source() -> str | None:
    """The commit, branch and pipeline of a CI run (GitHub Actions, GitLab CI), so a deployment says where
    it came from: `acme/web@3f2c… on main https://github.com/acme/web/actions/runs/42`."""
    e = os.environ
    if e.get("GITHUB_SHA"):
        repo = e.get("GITHUB_REPOSITORY", "")
        server = e.get("GITHUB_SERVER_URL", "https://github.com")
        run = f"{server}/{repo}/actions/runs/{e.get('GITHUB_RUN_ID', '')}"
        return _source_line(repo, e["GITHUB_SHA"], e.get("GITHUB_REF_NAME"), run)
    if e.get("CI_COMMIT_SHA"):
        return _source_line(
            e.get("CI_PROJECT_PATH", ""),
            e["CI_COMMIT_SHA"],
            e.get("CI_COMMIT_REF_NAME"),
            e.get("CI_PIPELINE_URL"),
        )
    return None


def _source_line(repo: str, sha: str, branch: str | None, url: str | None) -> str:
    parts = [f"{repo}@{sha}", *([f"on {branch}"] if branch else []), *([url] if url else [])]
    return " ".join(parts)[:1000]  # the API takes at most 1000 characters of source


def register(app: typer.Typer) -> None:
    app.command()(apply)
    app.command()(deploy)
    app.command()(delete)
