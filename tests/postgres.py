"""The PostgreSQL server the tests use: `CLOUDFAUJ_TEST_POSTGRES` (scripts/postgres.sh starts a throwaway
one and sets it; CI does). Each test gets a database of its own, dropped afterwards. Without the variable,
the PostgreSQL tests are skipped, saying why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
import pytest

ENV = "CLOUDFAUJ_TEST_POSTGRES"


def server_url() -> str:
    url = os.environ.get(ENV)
    if not url:
        pytest.skip(f"no PostgreSQL server: set {ENV} (`source scripts/postgres.sh` starts one)")
    return url


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database on the test server; dropped (with its connections) at the end."""
    url = server_url()
    name = f"cf_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlsplit(url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
