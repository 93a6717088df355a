"""The API under test: the real app around `FakeService`, driven in-process through Starlette's TestClient."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from cloudfauj.api import create_app
from cloudfauj.api.testing import FakeService

with warnings.catch_warnings():
    # Starlette 1.x prefers the `httpx2` package for its TestClient; with plain httpx (what we have) it
    # works the same and warns once, at import.
    warnings.filterwarnings(
        "ignore", "Using `httpx` with `starlette.testclient`", StarletteDeprecationWarning
    )
    from starlette.testclient import TestClient


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def client(service: FakeService) -> Iterator[TestClient]:
    app = create_app(service, max_body_bytes=4096, stream_poll_seconds=0.01, keepalive_seconds=0.05)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
