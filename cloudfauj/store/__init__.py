"""Persistence: the `Store` interface and its backends (ARCHITECTURE §7)."""

from __future__ import annotations

from pathlib import Path

from cloudfauj.store.base import Desired, Store, Written
from cloudfauj.store.sqlite import SqliteStore

__all__ = ["Desired", "SqliteStore", "Store", "Written", "open_store"]


def open_store(data_dir: Path) -> Store:
    """The embedded default: `<data_dir>/cloudfauj.db`."""
    return SqliteStore(data_dir / "cloudfauj.db")
