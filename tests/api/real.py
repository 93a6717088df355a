"""The real API app over a real `Service` and SQLite store, for tests that must not use `FakeService`.

No AWS and no planner (`aws=None, plan=None`: `diff` and app logs answer 503), and no reactor: `end_open`
stands in for it. When `create_app` checks tokens (ARCHITECTURE §9), an admin token is stored and
`headers` carries it.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from cloudfauj.api import create_app
from cloudfauj.records import RecordStatus, parse_key, utcnow
from cloudfauj.service import Service
from cloudfauj.settings import Settings
from cloudfauj.store import SqliteStore


class RealApp:
    def __init__(self, data_dir: Path, *, end_open: bool = True, **app_options: Any) -> None:
        self.store = SqliteStore(data_dir / "cloudfauj.db")
        self.queued: list[str] = []
        self.service = Service(self.store, Settings(), enqueue=self._queued, ready=lambda: True)
        self._end_open = end_open
        self.token: str | None = None
        if "authenticator" in inspect.signature(create_app).parameters:
            from cloudfauj import tokens

            self.token = tokens.new_secret()
            self.store.create_token("test-admin", tokens.Role.ADMIN, tokens.hash_secret(self.token))
            app_options["authenticator"] = tokens.TokenAuthenticator(self.store)
        self.app = create_app(self.service, **app_options)
        self.headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _queued(self, key: str) -> None:
        """The reactor's stand-in: every open record of `key` ends at once, so that streams of it end."""
        self.queued.append(key)
        if not self._end_open:
            return
        kind, env, name = parse_key(key)
        for record in self.store.unfinished_records():
            if (record.kind, record.env or None, record.name) == (kind, env, name):
                self.store.save_record(record.finish(RecordStatus.SUCCEEDED, "test", now=utcnow()))

    def stored(self) -> tuple[list[Any], list[Any]]:
        """Every object and record in the store."""
        return self.store.list_objects(), self.store.list_records(limit=1000)

    def close(self) -> None:
        self.store.close()
