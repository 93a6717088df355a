"""Upstream Cloudfauj's commands, kept working as aliases of the kind-based ones (reference/upstream.md §1).

env create --config F        apply -f F
env ls                       get environments  (one name per line)
env destroy NAME             delete environment NAME
app destroy --env ENV NAME   delete application NAME --env ENV
deployment ls | info ID | logs ID
domain add FILE              apply -f FILE, then the name servers to configure
domain ls | delete NAME
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cloudfauj.cli.client import Client
from cloudfauj.cli.commands.apply import apply_files, delete_object
from cloudfauj.cli.commands.common import OutputOpt, ServerOpt, TimeoutOpt, TokenOpt, WaitOpt, connect
from cloudfauj.cli.commands.get import fetch_one, fetch_rows, show_logs
from cloudfauj.cli.output import COLUMNS, Format, emit, notice, when

__all__ = ["register"]

env_app = typer.Typer(help="Environments (upstream commands).", no_args_is_help=True)
app_app = typer.Typer(help="Applications (upstream commands).", no_args_is_help=True)
deployment_app = typer.Typer(help="Deployments (upstream commands).", no_args_is_help=True)
domain_app = typer.Typer(help="Domains (upstream commands).", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument()]


@env_app.command("create")
def env_create(
    config: Annotated[str, typer.Option("--config", help="The environment file.")],
    wait: WaitOpt = True,
    timeout: TimeoutOpt = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Create or update an environment from its file."""
    raise typer.Exit(
        apply_files(
            [config],
            env=None,
            image=None,
            wait=wait,
            timeout=timeout,
            output=output,
            server=server,
            token=token,
        )
    )


@env_app.command("ls")
def env_ls(output: OutputOpt = Format.table, server: ServerOpt = None, token: TokenOpt = None) -> None:
    """List environments, one name per line."""
    _names("Environment", "No environments created yet", output, server, token)


@env_app.command("destroy")
def env_destroy(
    name: NameArg,
    cascade: Annotated[bool, typer.Option("--cascade", help="Also delete its applications.")] = False,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Delete an environment (it must have no applications, unless --cascade)."""
    raise typer.Exit(
        delete_object(
            "Environment",
            name,
            env=None,
            cascade=cascade,
            wait=wait,
            timeout=timeout,
            output=output,
            server=server,
            token=token,
        )
    )


@app_app.command("destroy")
def app_destroy(
    name: NameArg,
    env: Annotated[str, typer.Option("--env", help="The application's environment.")],
    wait: WaitOpt = True,
    timeout: TimeoutOpt = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Delete an application from an environment."""
    raise typer.Exit(
        delete_object(
            "Application",
            name,
            env=env,
            cascade=False,
            wait=wait,
            timeout=timeout,
            output=output,
            server=server,
            token=token,
        )
    )


@deployment_app.command("ls")
def deployment_ls(
    env: Annotated[str | None, typer.Option("--env")] = None,
    app: Annotated[str | None, typer.Option("--app")] = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """List deployments, newest first."""
    with connect(server, token) as client:
        rows = fetch_rows(client, "Deployment", limit=None, env=env, app=app)
    if output is Format.table and not rows:
        notice("No deployments yet")
        return
    emit(rows, output, COLUMNS["Deployment"])


@deployment_app.command("info")
def deployment_info(
    deployment_id: Annotated[str, typer.Argument(metavar="ID")],
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Show one deployment."""
    with connect(server, token) as client:
        d = fetch_one(client, "Deployment", deployment_id, None)
    if output is not Format.table:
        emit(d, output)
        return
    fields = [
        ("ID", d["id"]),
        ("App", d["app"]),
        ("Target Env", d["env"]),
        ("Image", d["image"]),
        ("Status", d["status"]),
        ("Reason", d.get("reason")),
        ("Created", when(d["created_at"])),
        ("Finished", when(d.get("finished_at"))),
    ]
    typer.echo("\n".join(f"    {k + ':':<12}{v if v is not None else '-'}" for k, v in fields))


@deployment_app.command("logs")
def deployment_logs(
    deployment_id: Annotated[str, typer.Argument(metavar="ID")],
    follow_: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until it ends.")] = False,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Print a deployment's event log."""
    raise typer.Exit(
        show_logs("Deployment", deployment_id, follow_=follow_, output=output, server=server, token=token)
    )


@domain_app.command("add")
def domain_add(
    file: Annotated[str, typer.Argument(metavar="FILE", help="The domain file, e.g. example.com.yml.")],
    wait: WaitOpt = True,
    timeout: TimeoutOpt = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Add a domain from its file, then show the name servers to delegate it to."""

    def name_servers(client: Client, result: dict[str, Any]) -> None:
        for obj in result["objects"]:
            if obj["kind"] == "Domain":
                _print_name_servers(client, obj["name"], output)

    raise typer.Exit(
        apply_files(
            [file],
            env=None,
            image=None,
            wait=wait,
            timeout=timeout,
            output=output,
            server=server,
            token=token,
            after=name_servers,
        )
    )


@domain_app.command("ls")
def domain_ls(output: OutputOpt = Format.table, server: ServerOpt = None, token: TokenOpt = None) -> None:
    """List domains, one name per line."""
    _names("Domain", "No domains registered yet", output, server, token)


@domain_app.command("delete")
def domain_delete(
    name: NameArg,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = None,
    output: OutputOpt = Format.table,
    server: ServerOpt = None,
    token: TokenOpt = None,
) -> None:
    """Delete a domain (no environment may use it)."""
    raise typer.Exit(
        delete_object(
            "Domain",
            name,
            env=None,
            cascade=False,
            wait=wait,
            timeout=timeout,
            output=output,
            server=server,
            token=token,
        )
    )


def _names(kind: str, empty: str, output: Format, server: str | None, token: str | None) -> None:
    with connect(server, token) as client:
        rows = fetch_rows(client, kind, limit=None)
    if output is not Format.table:
        emit(rows, output)
    elif not rows:
        notice(empty)
    else:
        typer.echo("\n".join(r["metadata"]["name"] for r in rows))


def _print_name_servers(client: Client, name: str, output: Format) -> None:
    servers = fetch_one(client, "Domain", name, None)["status"].get("outputs", {}).get("name_servers") or []
    if not servers:
        return
    lines = [f"NS records to be configured for {name}:", *servers]
    # With -o json|yaml stdout holds the records document alone; the name servers are a notice then.
    say = typer.echo if output is Format.table else notice
    say("\n".join(lines))


def register(app: typer.Typer) -> None:
    app.add_typer(env_app, name="env")
    app.add_typer(app_app, name="app")
    app.add_typer(deployment_app, name="deployment")
    app.add_typer(domain_app, name="domain")
