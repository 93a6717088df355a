"""The API under test: the real app around `FakeService`, driven in-process through Starlette's TestClient.

`client` sends the fake's admin token with every request; `anonymous` sends none (tests of who may do
what add their own `Authorization` header).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from cloudfauj.api import create_app
from cloudfauj.api.testing import ADMIN_TOKEN, FakeService

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
def app(service: FakeService) -> Starlette:
    return create_app(
        service,
        authenticator=service,
        max_body_bytes=4096,
        stream_poll_seconds=0.01,
        keepalive_seconds=0.05,
    )


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(
        app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as c:
        yield c


@pytest.fixture
def anonymous(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
