"""Exit codes follow the contract: 0 success, 1 a record failed, 2 invalid input or a refused request,
3 server unreachable or token refused, 4 --timeout reached — always with a sentence, never a traceback.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from cloudfauj.api.testing import FakeService
from tests.cli.conftest import Server, free_port
from tests.cli.helpers import APP, CF, ENV, IMAGE, write


def test_invalid_yaml_exits_2_with_the_located_problem_on_stderr(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / "bad.yml", "name: [demo\nnetwork: aws\n")
    r = cf("apply", "-f", "bad.yml")
    assert r.code == 2, str(r)
    assert "Error: bad.yml, line " in r.err and "not valid YAML" in r.err and r.out == ""


def test_a_missing_file_exits_2_naming_it(cf: CF) -> None:
    r = cf("apply", "-f", "nowhere.yml")
    assert r.code == 2 and "nowhere.yml" in r.err, str(r)
    r = cf("deploy", "--env", "demo", IMAGE)
    assert r.code == 2 and ".cloudfauj.yml" in r.err, str(r)


def test_a_conflict_exits_2_with_the_servers_reason(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / "env.yml", ENV)
    write(tmp_path / ".cloudfauj.yml", APP)
    assert cf("apply", "-f", "env.yml").code == 0
    assert cf("deploy", "--env", "demo", IMAGE).code == 0
    r = cf("delete", "environment", "demo")
    assert r.code == 2 and "web" in r.err and "still has applications" in r.err, str(r)


def test_an_unknown_object_exits_2(cf: CF) -> None:
    r = cf("get", "environment", "nowhere")
    assert r.code == 2 and "Environment 'nowhere' does not exist." in r.err, str(r)


@pytest.mark.parametrize(
    "args",
    [
        ["get"],
        ["get", "vpcs"],
        ["get", "envs", "-o", "xml"],
        ["apply", "--bogus"],
        ["get", "envs", "--limit", "0"],
        ["get", "envs", "--app", "web"],
        ["deploy", IMAGE],
        ["frobnicate"],
        ["delete", "deployment", "x"],
    ],
)
def test_usage_mistakes_exit_2(cf: CF, args: list[str]) -> None:
    r = cf(*args)
    assert r.code == 2, str(r)
    assert "Error" in r.err


def test_a_bad_server_url_exits_2(cf: CF) -> None:
    r = cf("get", "envs", "--server", "localhost:6200")
    assert r.code == 2 and "http://" in r.err, str(r)


def test_nothing_listening_exits_3(cf: CF) -> None:
    r = cf("get", "envs", "--server", f"http://127.0.0.1:{free_port()}")
    assert r.code == 3 and "Cannot reach the Cloudfauj server" in r.err, str(r)


def test_a_refused_token_exits_3(cf: CF, server: Server) -> None:
    server.recorder.refuse_token = "stale"
    r = cf("get", "envs", "--token", "stale")
    assert r.code == 3 and "token" in r.err.lower(), str(r)


def test_a_server_failure_exits_3(cf: CF, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(server.service, "list_objects", broken)
    r = cf("get", "envs")
    assert r.code == 3 and "failed (500)" in r.err, str(r)


def test_the_timeout_exits_4_and_still_prints_the_records(cf: CF, server: Server, tmp_path: Path) -> None:
    server.service.outcome = lambda record: "hang"
    write(tmp_path / "env.yml", ENV)
    r = cf("apply", "-f", "env.yml", "--timeout", "0.5", "-o", "json")
    assert r.code == 4, str(r)
    assert "Timed out after 0.5 s" in r.err and r.json()[0]["status"] == "in_progress"


def test_a_server_gone_mid_wait_exits_3(cf: CF, server: Server, tmp_path: Path) -> None:
    server.service.outcome = lambda record: "hang"
    write(tmp_path / "env.yml", ENV)
    threading.Timer(0.5, server.stop).start()
    r = cf("apply", "-f", "env.yml", "--timeout", "30")
    assert r.code == 3, str(r)
    assert "Cloudfauj server" in r.err


def test_a_superseded_record_counts_as_not_succeeded(cf: CF, server: Server, tmp_path: Path) -> None:
    service: FakeService = server.service
    record_id = service.add_record("Environment", "demo", status="superseded")
    r = cf("logs", "record", record_id, "--follow")
    assert r.code == 1, str(r)
