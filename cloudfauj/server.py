"""`cloudfauj server`: wires store, AWS gateway, reactor, service and API together and runs uvicorn.

Start-up order: data dir (owner-only) → optional in-process sandbox → store and installation id →
AWS identity check (STS) → API up; the reactor starts inside the app's lifespan, re-queues all stored
work, and only then does `/readyz` answer 200.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from cloudfauj.api import create_app
from cloudfauj.aws import Gateway
from cloudfauj.errors import CloudfaujError
from cloudfauj.reactor import Reactor
from cloudfauj.service import Service
from cloudfauj.settings import Settings
from cloudfauj.store import open_store
from controllers.registry import CONTROLLERS

__all__ = ["run"]

log = logging.getLogger("cloudfauj.server")
SANDBOX_REGION = "us-east-1"
SANDBOX_CREDENTIALS = ("testing", "testing")


def _notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(settings: Settings) -> None:
    """Run the server until SIGINT/SIGTERM. Raises CloudfaujError when it cannot start."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    sandbox: Any = None
    endpoint = settings.aws_endpoint or os.environ.get("AWS_ENDPOINT_URL")
    region = settings.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if settings.sandbox:
        from cloudfauj.sandbox import Sandbox  # loads moto: only when asked for

        sandbox = Sandbox(port=settings.sandbox_port, rollout_seconds=settings.sandbox_rollout_seconds)
        endpoint = sandbox.start()
        region = region or SANDBOX_REGION
        _notice(f"sandbox: AWS emulator at {endpoint} (rollouts take {settings.sandbox_rollout_seconds:g} s)")
    store = open_store(settings.data_dir)
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
    aws = Gateway(region=region, endpoint_url=endpoint, installation_id=installation, credentials=credentials)
    try:
        me = aws.identity()
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
    reactor = Reactor(store, aws, settings, CONTROLLERS)
    service = Service(
        store, settings, enqueue=reactor.enqueue, ready=lambda: reactor.ready, aws=aws, plan=reactor.plan
    )

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await reactor.start()
        _notice(f"cloudfauj: serving on http://{settings.bind_host}:{settings.bind_port}")
        try:
            yield
        finally:
            await reactor.stop()

    app = create_app(service, lifespan=lifespan, max_body_bytes=settings.max_body_bytes)
    uvicorn.run(
        app,
        host=settings.bind_host,
        port=settings.bind_port,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )
