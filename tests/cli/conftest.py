"""The CLI under test, against a real HTTP server: uvicorn in a thread on a free loopback port, serving the
real API app around `FakeService`, behind a small recorder that also misbehaves on request.

The CLI runs with the fake's admin token in CLOUDFAUJ_TOKEN and a config directory of its own (never the
user's real `~/.config/cloudfauj`).
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from cloudfauj.api import create_app
from cloudfauj.api.testing import ADMIN_TOKEN, FakeService
from cloudfauj.cli.main import app
from cloudfauj.settings import Settings
from tests.cli.helpers import CF, Result

Scope = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Recorder:
    """ASGI middleware: remembers each request; refuses one token (401); cuts event streams short."""

    app: Any
    requests: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)
    refuse_token: str | None = None
    break_streams: bool = False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.requests.append((scope["method"], scope["path"], scope["query_string"].decode(), headers))
        if self.refuse_token and headers.get("authorization") == f"Bearer {self.refuse_token}":
            body = {"error": {"code": "unauthorized", "message": "The token is not valid.", "details": None}}
            return await _send(send, 401, "application/json", json.dumps(body).encode())
        if self.break_streams and scope["path"].endswith("/events/stream"):
            return await _send(send, 200, "text/event-stream", b": the stream ends early\n\n")
        return await self.app(scope, receive, send)

    def paths(self, method: str = "GET") -> list[str]:
        return [f"{p}?{q}" if q else p for m, p, q, _ in self.requests if m == method]


async def _send(send: Any, status: int, content_type: str, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type.encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass
class Server:
    url: str
    service: FakeService
    recorder: Recorder
    _uvicorn: uvicorn.Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._uvicorn.should_exit = True
        self._thread.join(10)


@pytest.fixture
def server() -> Iterator[Server]:
    service = FakeService()
    recorder = Recorder(
        create_app(service, authenticator=service, stream_poll_seconds=0.01, keepalive_seconds=0.5)
    )
    port = free_port()
    config = uvicorn.Config(
        recorder,
        host="127.0.0.1",
        port=port,
        log_level="critical",
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="test-api-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.started, "the test API server did not start"
    s = Server(f"http://127.0.0.1:{port}", service, recorder, srv, thread)
    yield s
    s.stop()


@pytest.fixture
def cf(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CF:
    """Run `cloudfauj ARGS` in a scratch directory against the test server."""
    monkeypatch.chdir(tmp_path)
    for name in ("CLOUDFAUJ_CA_BUNDLE", "GITHUB_SHA", "CI_COMMIT_SHA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLOUDFAUJ_SERVER", server.url)
    monkeypatch.setenv("CLOUDFAUJ_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("NO_COLOR", "1")
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        r = runner.invoke(app, list(args), input=input)
        assert r.exception is None or isinstance(r.exception, SystemExit), str(r.exception)
        assert "Traceback" not in r.stdout + r.stderr
        return Result(r.exit_code, r.stdout, r.stderr)

    return run


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """Settings that `cloudfauj server` would run with (the server itself is not started)."""
    runs: list[Settings] = []
    fake = types.ModuleType("cloudfauj.server")
    fake.run = runs.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cloudfauj.server", fake)
    return runs
