"""`server`, `sandbox serve|push` and `version`: flags reach the server's settings and the sandbox's
functions (both replaced here by recorders: they are tested where they live), bad flags exit 2.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from cloudfauj.errors import CloudfaujError
from cloudfauj.settings import Settings
from tests.cli.conftest import Server, free_port
from tests.cli.helpers import CF, write


@pytest.fixture
def sandbox_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    calls: list[tuple[str, Any]] = []
    fake = types.ModuleType("cloudfauj.sandbox")

    def push_image(
        endpoint: str, repo: str, tag: str, *, crash: bool = False, unhealthy: bool = False, region: str = ""
    ) -> str:
        calls.append(("push", (endpoint, repo, tag, crash, unhealthy, region)))
        return f"123456789012.dkr.ecr.{region}.amazonaws.com/{repo}:{tag}"

    fake.push_image = push_image  # type: ignore[attr-defined]
    fake.serve = lambda **kwargs: calls.append(("serve", kwargs))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cloudfauj.sandbox", fake)
    return calls


def test_server_flags_become_settings(cf: CF, started: list[Settings], tmp_path: Path) -> None:
    r = cf("server", "--host", "0.0.0.0", "--port", "7000", "--data-dir", "d", "--sandbox",
           "--sandbox-port", "4567", "--sandbox-rollout-seconds", "0.5", "--aws-endpoint", "http://x:1",
           "--region", "eu-west-1", "--workers", "3")  # fmt: skip
    assert r.code == 0, str(r)
    (s,) = started
    assert (s.bind_host, s.bind_port, s.data_dir, s.sandbox, s.sandbox_port) == (
        "0.0.0.0",
        7000,
        Path("d"),
        True,
        4567,
    )
    assert (s.sandbox_rollout_seconds, s.aws_endpoint, s.region, s.workers) == (
        0.5,
        "http://x:1",
        "eu-west-1",
        3,
    )


def test_server_flags_override_the_config_file(cf: CF, started: list[Settings], tmp_path: Path) -> None:
    write(tmp_path / "cf.yml", "bind_port: 6300\ndata_dir: /tmp/cf\n")
    assert cf("server", "--config", "cf.yml", "--port", "6400").code == 0
    assert (started[0].bind_port, started[0].data_dir) == (6400, Path("/tmp/cf"))


def test_server_settings_that_are_invalid_exit_2(cf: CF, started: list[Settings], tmp_path: Path) -> None:
    r = cf("server", "--port", "70000")
    assert r.code == 2 and "bind_port" in r.err, str(r)
    write(tmp_path / "cf.yml", "colour: blue\n")
    r = cf("server", "--config", "cf.yml")
    assert r.code == 2 and "cf.yml" in r.err and "colour" in r.err, str(r)
    assert started == []


def test_server_takes_a_sync_dir_with_prune_and_a_log_format(
    cf: CF, started: list[Settings], tmp_path: Path
) -> None:
    (tmp_path / "deploy").mkdir()
    r = cf("server", "--sync-dir", "deploy", "--prune", "--log-format", "json")
    assert r.code == 0, str(r)
    (s,) = started
    assert (s.sync_dir, s.sync_prune, s.log_format) == (Path("deploy"), True, "json")
    write(tmp_path / "cf.yml", "sync_dir: deploy\nsync_poll_seconds: 2\n")
    assert cf("server", "--config", "cf.yml").code == 0
    assert (started[1].sync_dir, started[1].sync_prune, started[1].sync_poll_seconds) == (
        Path("deploy"),
        False,
        2,
    )


def test_a_missing_sync_dir_prune_alone_or_an_unknown_log_format_exit_2(
    cf: CF, started: list[Settings], tmp_path: Path
) -> None:
    r = cf("server", "--sync-dir", "nowhere")
    assert r.code == 2 and "nowhere is not a directory" in r.err and "Traceback" not in r.err, str(r)
    r = cf("server", "--prune")
    assert r.code == 2 and "sync_dir" in r.err, str(r)
    r = cf("server", "--log-format", "xml")
    assert r.code == 2 and "log_format" in r.err, str(r)
    assert started == []


def test_the_store_and_lease_settings_reach_the_server(
    cf: CF, started: list[Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "cf.yml", "lease_seconds: 6\nlease_renew_seconds: 4\nlease_retry_seconds: 1\n")
    monkeypatch.setenv("CLOUDFAUJ_STORE", "postgresql://cf@db:5432/cloudfauj")
    assert cf("server", "--config", "cf.yml", "--replica-id", "cf-a").code == 0
    (s,) = started
    assert (s.store, s.replica_id) == ("postgresql://cf@db:5432/cloudfauj", "cf-a")
    assert (s.lease_seconds, s.lease_renew_seconds, s.lease_retry_seconds) == (6, 4, 1)
    assert Settings().replica_id.endswith(f"-{os.getpid()}")  # default: host and pid


def test_a_store_that_is_not_a_postgresql_url_or_lease_timings_out_of_order_exit_2(
    cf: CF, started: list[Settings], tmp_path: Path
) -> None:
    r = cf("server", "--store", "mysql://db/cloudfauj")
    assert r.code == 2 and "the store must be a PostgreSQL URL" in r.err, str(r)
    write(tmp_path / "cf.yml", "lease_seconds: 5\nlease_renew_seconds: 10\n")
    r = cf("server", "--config", "cf.yml")
    assert r.code == 2 and "lease_seconds > lease_renew_seconds" in r.err, str(r)
    assert started == []


def test_a_postgresql_store_that_cannot_be_reached_exits_1_saying_where(cf: CF, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    r = cf("server", "--store", f"postgresql://cf:hunter2@127.0.0.1:{port}/cloudfauj", "--data-dir", "d",
           "--aws-endpoint", "http://127.0.0.1:1", "--region", "us-east-1")  # fmt: skip
    assert r.code == 1, str(r)
    assert f"Cannot use the PostgreSQL store at cf@127.0.0.1:{port}/cloudfauj" in r.err, str(r)
    assert "hunter2" not in r.err and "Traceback" not in r.err


def test_a_server_that_cannot_start_exits_1_with_the_reason(cf: CF, monkeypatch: pytest.MonkeyPatch) -> None:
    def run(settings: Settings) -> None:
        raise CloudfaujError("Cannot use AWS: no credentials.")

    fake = types.ModuleType("cloudfauj.server")
    fake.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cloudfauj.server", fake)
    r = cf("server")
    assert r.code == 1 and "Cannot use AWS: no credentials." in r.err, str(r)


def test_sandbox_push_prints_the_image_uri(cf: CF, server: Server, sandbox_calls: list[Any]) -> None:
    r = cf("sandbox", "push", "web:v1", "--crash", "--endpoint", server.url, "--region", "eu-west-1")
    assert r.code == 0, str(r)
    assert r.out == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:v1\n"
    assert sandbox_calls == [("push", (server.url, "web", "v1", True, False, "eu-west-1"))]


def test_sandbox_push_unhealthy_reaches_push_image(cf: CF, server: Server, sandbox_calls: list[Any]) -> None:
    r = cf("sandbox", "push", "web:v2", "--unhealthy", "--endpoint", server.url)
    assert r.code == 0, str(r)
    assert sandbox_calls == [("push", (server.url, "web", "v2", False, True, "us-east-1"))]


def test_sandbox_push_refuses_crash_with_unhealthy(cf: CF, server: Server, sandbox_calls: list[Any]) -> None:
    r = cf("sandbox", "push", "web:v1", "--crash", "--unhealthy", "--endpoint", server.url)
    assert r.code == 2, str(r)
    assert "--crash and --unhealthy cannot be combined" in r.err
    assert len(r.err.strip().splitlines()) == 1, str(r)
    assert sandbox_calls == []


def test_sandbox_push_refuses_a_bad_reference_and_a_missing_emulator(
    cf: CF, sandbox_calls: list[Any]
) -> None:
    assert cf("sandbox", "push", "web").code == 2
    r = cf("sandbox", "push", "web:v1", "--endpoint", f"http://127.0.0.1:{free_port()}")
    assert r.code == 3 and "sandbox serve" in r.err, str(r)
    assert sandbox_calls == []


def test_sandbox_serve_passes_its_flags(cf: CF, sandbox_calls: list[Any]) -> None:
    assert cf("sandbox", "serve", "--port", "4570", "--rollout-seconds", "1").code == 0
    assert sandbox_calls == [
        (
            "serve",
            {"host": "127.0.0.1", "port": 4570, "rollout_seconds": 1.0, "throttle": False, "latency": 0.0},
        )
    ]
    assert cf("sandbox", "serve", "--throttle", "--latency-ms", "50").code == 0
    assert sandbox_calls[-1][1] | {"port": 0} == {
        "host": "127.0.0.1",
        "port": 0,
        "rollout_seconds": 3.0,
        "throttle": True,
        "latency": 0.05,
    }


def test_version_reports_the_client_and_the_server(cf: CF, server: Server) -> None:
    r = cf("version", "-o", "json")
    assert r.code == 0, str(r)
    info = r.json()
    assert info["client"] and info["server"]["version"] == "0.0.0+fake"
    assert info["server"]["installation_id"] == "fake-installation"
    alone = cf("version", "--server", f"http://127.0.0.1:{free_port()}")
    assert alone.code == 0 and alone.out.startswith("cloudfauj ") and "Cannot reach" in alone.err
