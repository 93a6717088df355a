"""SQLite store: the embedded default, one file in the data dir (WAL, foreign keys, versioned migrations).

Writes go through one connection under a lock: they are small and few, and SQLite serialises writers
anyway. Reads use a connection per thread: in WAL mode they wait for neither the writer nor each other
(nor do readers of other processes: backups, `sqlite3` by hand).
One server process owns the file, so its leases are a formality: whatever leases a previous process left
are let go when the file is opened.
The WAL is copied back into the database file by a thread of the store's own, every second: left to
itself, SQLite does it inside whichever commit makes the WAL pass 1,000 pages, and that commit then waits
for the disk (an fsync) — an apply on the API's event loop, or a controller's write.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cloudfauj.store.sql import SqlStore

__all__ = ["SqliteStore"]

log = logging.getLogger("cloudfauj.store")


class SqliteStore(SqlStore):
    local = True  # reads never wait for the writer (WAL); a write is a local transaction of a few hundred µs
    _NOW = "((julianday('now') - 2440587.5) * 86400.0)"

    def __init__(self, path: Path, *, checkpoint_seconds: float = 1.0) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._db = self._connect()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA wal_autocheckpoint=0")  # commits never checkpoint: _checkpoints does
        self._migrate()
        with self._tx() as db:
            db.execute("UPDATE leases SET expires_at = 0")
        self._closing = threading.Event()
        self._checkpointer = threading.Thread(
            target=self._checkpoints, args=(checkpoint_seconds,), name="sqlite-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _checkpoints(self, every: float) -> None:
        """Copy committed pages back into the database file, without waiting for (or holding up) readers
        or the writer: a passive checkpoint, on a connection of its own."""
        db = self._connect()
        try:
            while not self._closing.wait(every):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as e:  # e.g. the disk is full: the next second may do better
                    log.warning("could not checkpoint %s: %s", self.path, e)
        finally:
            db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """A read on this thread's own connection: in WAL mode readers neither wait for the writer nor
        for each other, so API reads stay fast while controllers write."""
        reader: sqlite3.Connection | None = getattr(self._local, "db", None)
        if reader is None:
            reader = self._local.db = self._connect()
            with self._lock:
                self._readers.append(reader)
        return reader.execute(sql, args).fetchall()

    def close(self) -> None:
        self._closing.set()
        self._checkpointer.join()
        with self._lock:
            for reader in self._readers:
                reader.close()
            self._readers.clear()
            self._db.close()
