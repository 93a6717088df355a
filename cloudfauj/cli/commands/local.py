"""Commands that run something here rather than ask a server: `server`, `sandbox serve|push`, `version`.

The server and the sandbox are imported inside their commands: the sandbox loads moto (seconds), and
the client commands must start fast.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from cloudfauj.cli.client import ClientError, Unreachable
from cloudfauj.cli.commands.common import InputError, OutputOpt, ServerOpt, TokenOpt, connect
from cloudfauj.cli.output import Format, emit, notice
from cloudfauj.errors import CloudfaujError, InvalidInput

__all__ = ["register"]

sandbox_app = typer.Typer(
    help="The embedded AWS emulator, for trying Cloudfauj and for tests.", no_args_is_help=True
)


def server(
    config: Annotated[Path | None, typer.Option("--config", help="Config file (YAML).")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Bind address [default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port [default: 6200].")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Where state is kept.")] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            envvar="CLOUDFAUJ_STORE",
            metavar="URL",
            help="Keep state in this PostgreSQL database (postgresql://...), shared by every replica "
            "[default: SQLite in the data dir].",
        ),
    ] = None,
    replica_id: Annotated[
        str | None,
        typer.Option("--replica-id", help="This replica's name in leases and events [default: host-pid]."),
    ] = None,
    sandbox: Annotated[
        bool | None, typer.Option("--sandbox/--no-sandbox", help="Run the AWS emulator in-process.")
    ] = None,
    sandbox_port: Annotated[int | None, typer.Option("--sandbox-port", help="[default: 4566]")] = None,
    sandbox_rollout_seconds: Annotated[
        float | None,
        typer.Option("--sandbox-rollout-seconds", help="How long emulated ECS rollouts take [default: 3]."),
    ] = None,
    sandbox_faults: Annotated[
        str | None,
        typer.Option(
            "--sandbox-faults",
            metavar="SPEC",
            help="With --sandbox: answer a share of AWS calls with throttling or HTTP 500, "
            "e.g. throttle=0.3,error=0.05[,after=0.5][,seed=7].",
        ),
    ] = None,
    sandbox_throttle: Annotated[
        bool | None,
        typer.Option("--sandbox-throttle", help="With --sandbox: enforce AWS's documented API rate limits."),
    ] = None,
    sandbox_latency_ms: Annotated[
        float | None,
        typer.Option(
            "--sandbox-latency-ms", min=0, help="With --sandbox: add this latency to each AWS call."
        ),
    ] = None,
    aws_endpoint: Annotated[
        str | None,
        typer.Option(
            "--aws-endpoint", envvar="AWS_ENDPOINT_URL", help="Send every AWS call to this endpoint."
        ),
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="AWS region.")] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Objects reconciled at once [default: 8].")
    ] = None,
    resync_seconds: Annotated[
        float | None,
        typer.Option("--resync-seconds", help="How often every object is compared with AWS [default: 600]."),
    ] = None,
    drift: Annotated[
        str | None,
        typer.Option("--drift", help="What resync does with drift: correct or report [default: correct]."),
    ] = None,
    tls_cert: Annotated[
        Path | None,
        typer.Option("--tls-cert", metavar="FILE", help="Serve HTTPS with this PEM certificate (chain)."),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option("--tls-key", metavar="FILE", help="The private key of --tls-cert (PEM).")
    ] = None,
    sync_dir: Annotated[
        Path | None,
        typer.Option(
            "--sync-dir",
            metavar="DIR",
            help="Apply the manifests in DIR (its committed HEAD, in a git checkout) at every change.",
        ),
    ] = None,
    prune: Annotated[
        bool | None,
        typer.Option("--prune", help="With --sync-dir: delete objects applied from DIR that left it."),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option("--log-format", metavar="text|json", help="Server log lines [default: text]."),
    ] = None,
) -> None:
    """Run the Cloudfauj server (API and reconcilers) until interrupted."""
    from cloudfauj.settings import load_settings

    overrides = {
        "bind_host": host,
        "bind_port": port,
        "data_dir": data_dir,
        "store": store,
        "replica_id": replica_id,
        "sandbox": sandbox,
        "sandbox_port": sandbox_port,
        "sandbox_rollout_seconds": sandbox_rollout_seconds,
        "sandbox_faults": sandbox_faults,
        "sandbox_throttle": sandbox_throttle,
        "sandbox_latency_ms": sandbox_latency_ms,
        "aws_endpoint": aws_endpoint,
        "region": region,
        "workers": workers,
        "resync_seconds": resync_seconds,
        "drift": drift,
        "tls_cert": tls_cert,
        "tls_key": tls_key,
        "log_format": log_format,
        "sync_dir": sync_dir,
        "sync_prune": prune,
    }
    settings = load_settings(config, overrides)  # InvalidInput: exit 2, before the server's slow imports
    from cloudfauj.server import run

    try:
        run(settings)
    except InvalidInput:
        raise
    except CloudfaujError as e:  # it could not start (e.g. no usable AWS credentials): a failure, exit 1
        notice(f"Error: {e.message}")
        raise typer.Exit(1) from None


@sandbox_app.command("serve")
def sandbox_serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 4566,
    rollout_seconds: Annotated[float, typer.Option("--rollout-seconds", min=0)] = 3.0,
    faults: Annotated[
        str | None,
        typer.Option(
            "--faults",
            metavar="SPEC",
            help="Answer a share of AWS calls with throttling or HTTP 500, "
            "e.g. throttle=0.3,error=0.05[,after=0.5][,seed=7].",
        ),
    ] = None,
    throttle: Annotated[
        bool, typer.Option("--throttle", help="Enforce AWS's documented API rate limits (token buckets).")
    ] = False,
    latency_ms: Annotated[
        float, typer.Option("--latency-ms", min=0, help="Add this latency to each AWS call.")
    ] = 0.0,
) -> None:
    """Run the AWS emulator alone."""
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "rollout_seconds": rollout_seconds,
        "throttle": throttle,
        "latency": latency_ms / 1000,
    }
    if faults is not None:
        from cloudfauj.sandbox.faults import FaultPlan

        try:
            options["faults"] = FaultPlan.parse(faults)
        except ValueError as e:
            raise InputError(f"--faults: {e}") from None
    from cloudfauj.sandbox import serve

    serve(**options)


@sandbox_app.command("push")
def sandbox_push(
    image: Annotated[str, typer.Argument(metavar="REPO:TAG")],
    crash: Annotated[
        bool, typer.Option("--crash", help="Its containers exit as soon as they start.")
    ] = False,
    unhealthy: Annotated[
        bool,
        typer.Option(
            "--unhealthy",
            help="Its containers run, but its load-balancer targets fail their health checks.",
        ),
    ] = False,
    endpoint: Annotated[str, typer.Option("--endpoint", help="The emulator.")] = "http://127.0.0.1:4566",
    region: Annotated[str, typer.Option("--region")] = "us-east-1",
) -> None:
    """Make an image exist in the emulated ECR; prints its URI."""
    repo, sep, tag = image.rpartition(":")
    if not sep or not repo or not tag or "/" in tag:
        raise InputError(f"'{image}' is not REPO:TAG, e.g. web:v1.")
    if crash and unhealthy:
        raise InputError(
            "--crash and --unhealthy cannot be combined: an image either crashes or runs unhealthy."
        )
    try:
        httpx.get(endpoint, timeout=5)  # one clear sentence if nothing is there, before loading moto
    except httpx.HTTPError as e:
        raise Unreachable(
            f"Cannot reach the sandbox at {endpoint} ({e}); start it with `cloudfauj sandbox serve`."
        ) from e
    from cloudfauj.sandbox import push_image

    typer.echo(push_image(endpoint, repo, tag, crash=crash, unhealthy=unhealthy, region=region))


def version(output: OutputOpt = Format.table, server: ServerOpt = None, token: TokenOpt = None) -> None:
    """Print the CLI's version, and the server's when it answers."""
    info: dict[str, Any] = {"client": _client_version()}
    try:
        with connect(server, token) as client:
            health = client.get("/healthz")
        info["server"] = {
            "version": health.get("version"),
            "installation_id": health.get("installation_id"),
            "url": client.server,
        }
    except ClientError as e:
        notice(f"(server: {e.message})")
    if output is Format.table:
        typer.echo(f"cloudfauj {info['client']}")
        if "server" in info:
            typer.echo("server {version} at {url} (installation {installation_id})".format(**info["server"]))
    else:
        emit(info, output)


def _client_version() -> str:
    try:
        return importlib.metadata.version("cloudfauj")
    except importlib.metadata.PackageNotFoundError:
        from cloudfauj import __version__

        return __version__


def register(app: typer.Typer) -> None:
    app.command()(server)
    app.add_typer(sandbox_app, name="sandbox")
    app.command()(version)
