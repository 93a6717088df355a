"""`cloudfauj server`: wires store, AWS gateway, reactor, service and API together and runs uvicorn.

Start-up order: data dir (owner-only) and the TLS files checked → optional in-process sandbox → store
and installation id → AWS identity check (STS) → on an installation's first start, its admin token
(`cloudfauj.tokens.ensure_admin_token`) → API up, every /v1 request authorized by the store's tokens;
the reactor starts inside the app's lifespan, re-queues all stored work, and only then does `/readyz`
answer 200.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import ssl
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from cloudfauj import logformat
from cloudfauj.api import create_app
from cloudfauj.aws import AwsTemporaryError, Gateway, Identity
from cloudfauj.aws.budget import LIMITS, Budget, Limit
from cloudfauj.errors import CloudfaujError, InvalidInput, Problem
from cloudfauj.reactor import Reactor
from cloudfauj.service import Service
from cloudfauj.settings import Settings
from cloudfauj.store import open_store
from cloudfauj.store.postgres import describe_url
from cloudfauj.tokens import TokenAuthenticator, ensure_admin_token
from controllers.registry import CONTROLLERS

__all__ = ["run"]

log = logging.getLogger("cloudfauj.server")
SANDBOX_REGION = "us-east-1"
SANDBOX_CREDENTIALS = ("testing", "testing")


_json_logs = False  # with --log-format json, the start-up notices are log lines too


def _notice(message: str) -> None:
    if _json_logs:
        log.info(message)
        return
    print(message, file=sys.stderr, flush=True)


def run(settings: Settings) -> None:
    """Run the server until SIGINT/SIGTERM. Raises CloudfaujError when it cannot start."""
    global _json_logs
    logformat.configure(settings.log_level, settings.log_format)
    _json_logs = settings.log_format == "json"
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_tls(settings)
    # API requests and controller threads share one interpreter: a shorter switch interval lets a
    # request waiting for the GIL run within 1 ms of asking instead of up to 5 ms per hand-over.
    sys.setswitchinterval(0.001)
    sandbox: Any = None
    endpoint = settings.aws_endpoint or os.environ.get("AWS_ENDPOINT_URL")
    region = settings.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if settings.sandbox:
        from cloudfauj.sandbox import FaultPlan, Sandbox  # loads moto: only when asked for

        faults = FaultPlan.parse(settings.sandbox_faults) if settings.sandbox_faults else None
        sandbox = Sandbox(
            port=settings.sandbox_port,
            rollout_seconds=settings.sandbox_rollout_seconds,
            faults=faults,
            throttle=settings.sandbox_throttle,
            latency=settings.sandbox_latency_ms / 1000,
        )
        endpoint = sandbox.start()
        region = region or SANDBOX_REGION
        _notice(f"sandbox: AWS emulator at {endpoint} (rollouts take {settings.sandbox_rollout_seconds:g} s)")
        if faults is not None:
            _notice(sandbox.describe_faults())
        if settings.sandbox_throttle or settings.sandbox_latency_ms:
            limits = (
                "AWS's documented API rate limits enforced" if settings.sandbox_throttle else "no rate limits"
            )
            _notice(f"sandbox: {limits}, {settings.sandbox_latency_ms:g} ms added to each AWS call")
    try:
        store = open_store(settings.data_dir, settings.store, max_connections=settings.workers + 8)
    except CloudfaujError:
        if sandbox is not None:
            sandbox.stop()
        raise
    try:
        # The emulator accepts any credentials; never send a user's real ones to it.
        _serve(settings, store, endpoint, region, SANDBOX_CREDENTIALS if sandbox else None)
    finally:
        store.close()
        if sandbox is not None:
            sandbox.stop()


def _serve(
    settings: Settings,
    store: Any,
    endpoint: str | None,
    region: str | None,
    credentials: tuple[str, str] | None,
) -> None:
    installation = store.installation_id()
    aws = Gateway(
        region=region,
        endpoint_url=endpoint,
        installation_id=installation,
        credentials=credentials,
        budget=_budget(settings),
    )
    try:
        me = _identity(aws)
    except CloudfaujError as e:
        raise CloudfaujError(
            f"Cannot use AWS: {e.message.rstrip('.')}. Check the credentials and region."
        ) from e
    if not me.region:
        raise CloudfaujError("No AWS region is configured: pass --region or set AWS_REGION.")
    where = f" through {endpoint}" if endpoint else ""
    _notice(
        f"cloudfauj: managing AWS account {me.account} in {me.region}{where} (installation {installation})"
    )
    if settings.store:
        _notice(
            f"cloudfauj: replica {settings.replica_id}, state in PostgreSQL at "
            f"{describe_url(settings.store)} (leases of {settings.lease_seconds:g} s)"
        )
    _first_start(store, settings, installation)
    reactor = Reactor(store, aws, settings, CONTROLLERS)
    service = Service(
        store, settings, enqueue=reactor.enqueue, ready=lambda: reactor.ready, aws=aws, plan=reactor.plan
    )
    sync = _directory_sync(settings, service, store)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await reactor.start()
        # What start-up loads (botocore's service models above all) lives as long as the process: out of
        # the collector's sight, a full collection takes a few ms instead of 50-100 ms, mid-request.
        # In the background: serving does not wait for it.
        freezing = asyncio.create_task(_load_and_freeze(aws), name="gc-freeze")
        _notice(f"cloudfauj: serving on {_url(settings)}")
        syncing = asyncio.create_task(sync.run(), name="sync-dir") if sync else None
        try:
            yield
        finally:
            if syncing is not None:
                syncing.cancel()
                await asyncio.gather(syncing, return_exceptions=True)
            freezing.cancel()
            await asyncio.gather(freezing, return_exceptions=True)
            await reactor.stop()

    app = create_app(
        service,
        authenticator=TokenAuthenticator(store),
        lifespan=lifespan,
        max_body_bytes=settings.max_body_bytes,
    )
    uvicorn.run(
        app,
        host=settings.bind_host,
        port=settings.bind_port,
        log_level="warning",
        log_config=None,  # uvicorn's loggers propagate to ours (logformat.configure), in its format
        timeout_graceful_shutdown=5,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
    )


def _directory_sync(settings: Settings, service: Service, store: Any) -> Any:
    """The `--sync-dir` loop (cloudfauj/sync.py), whose state `GET /v1/sources` shows; None without one."""
    if settings.sync_dir is None:
        return None
    from cloudfauj.sync import DirectorySync

    sync = DirectorySync(
        service, store, settings.sync_dir, prune=settings.sync_prune, poll_seconds=settings.sync_poll_seconds
    )
    service.sources = sync.status
    prune = ", pruning what leaves it" if settings.sync_prune else ""
    _notice(f"cloudfauj: applying the manifests in {sync.directory} at every change{prune}")
    return sync


async def _load_and_freeze(aws: Gateway) -> None:
    await asyncio.to_thread(aws.warm)
    gc.freeze()


def _url(settings: Settings) -> str:
    scheme = "https" if settings.tls_cert else "http"
    return f"{scheme}://{settings.bind_host}:{settings.bind_port}"


def _check_tls(settings: Settings) -> None:
    """A certificate and key that do not load are input errors (exit 2), said before anything starts."""
    if settings.tls_cert is None or settings.tls_key is None:
        return
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            settings.tls_cert, settings.tls_key
        )
    except (OSError, ssl.SSLError) as e:
        raise InvalidInput(
            [
                Problem(
                    f"cannot serve HTTPS with certificate {settings.tls_cert} and key {settings.tls_key}: "
                    f"{e}; give a PEM certificate (chain) and its unencrypted PEM private key",
                    field="tls_cert",
                )
            ]
        ) from e


def _first_start(store: Any, settings: Settings, installation: str) -> None:
    """The installation's admin token, if it has none yet: where it went, never the secret itself."""
    written = ensure_admin_token(
        store, data_dir=settings.data_dir, installation_id=installation, server=_url(settings)
    )
    if written:
        places = " and ".join(str(p) for p in written)
        _notice(
            f"cloudfauj: first start: created the admin token; it is in {places} "
            "(the CLI run by this user finds it there by itself)"
        )


def _identity(aws: Gateway, attempts: int = 5) -> Identity:
    """Who we are in AWS; throttling or a 5xx at start-up is waited out (briefly), not fatal."""
    for attempt in range(1, attempts + 1):
        try:
            return aws.identity()
        except AwsTemporaryError as e:
            if attempt == attempts:
                raise
            log.warning("AWS identity check failed (%s); trying again", e.message)
            time.sleep(min(2 ** (attempt - 1), 8) * (0.5 + random.random() / 2))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _budget(settings: Settings) -> Budget | None:
    if not settings.aws_budget:
        return None
    limits = {**LIMITS, **{k: Limit(burst, rate) for k, (burst, rate) in settings.aws_limits.items()}}
    return Budget(limits, margin=settings.aws_budget_margin)
