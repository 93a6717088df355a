"""Shared fixtures: one sandbox AWS emulator per test session on loopback, reset before each test that
uses it, and boto3 clients pointed at it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

REGION = "us-east-1"


@pytest.fixture(scope="session")
def sandbox_endpoint() -> Iterator[str]:
    from cloudfauj.sandbox import Sandbox

    sandbox = Sandbox(port=0, rollout_seconds=0.3)
    endpoint = sandbox.start()
    yield endpoint
    sandbox.stop()


@pytest.fixture
def sandbox(sandbox_endpoint: str) -> str:
    """A clean emulated account for this test."""
    httpx.post(f"{sandbox_endpoint}/moto-api/reset").raise_for_status()
    return sandbox_endpoint


@pytest.fixture
def aws(sandbox: str) -> Callable[[str], Any]:
    cfg = Config(retries={"mode": "standard", "max_attempts": 2})

    def client(service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=sandbox,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=cfg,
        )

    return client


@pytest.fixture
def faulty_sandbox() -> Iterator[Callable[[str], Any]]:
    """Start emulators that inject faults (`--sandbox-faults` specs, e.g. "throttle=1.0"); they share
    moto's state with the session's emulator (moto is process-global) and are stopped after the test."""
    from cloudfauj.sandbox import FaultPlan, Sandbox

    started: list[Sandbox] = []

    def start(spec: str, rollout_seconds: float = 0.3) -> Sandbox:
        sandbox = Sandbox(port=0, rollout_seconds=rollout_seconds, faults=FaultPlan.parse(spec))
        sandbox.start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()
