"""Persistence: the `Store` interface and its backends (ARCHITECTURE §7)."""

from __future__ import annotations

from pathlib import Path

from cloudfauj.store.base import Desired, Lease, Store, Written
from cloudfauj.store.sqlite import SqliteStore

__all__ = ["Desired", "Lease", "SqliteStore", "Store", "Written", "is_postgres_url", "open_store"]


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def open_store(data_dir: Path, url: str | None = None, *, max_connections: int = 16) -> Store:
    """The PostgreSQL store at `url` (several replicas share it); else the embedded default,
    `<data_dir>/cloudfauj.db`."""
    if url:
        from cloudfauj.store.postgres import PostgresStore  # psycopg only when asked for

        return PostgresStore(url, max_connections=max_connections)
    return SqliteStore(data_dir / "cloudfauj.db")
