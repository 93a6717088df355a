"""`logs app` (an application's own lines, every task's, prefixed with the task id) beside `logs deployment`
and `logs record`, and `get deployments --watch`: both poll until Ctrl-C, which ends them with exit 0.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from cloudfauj.cli.commands import get as get_command
from cloudfauj.cli.commands import logs as logs_command
from cloudfauj.records import RecordStatus, utcnow
from tests.cli.conftest import Server
from tests.cli.helpers import APP, CF, ENV, IMAGE, write


@pytest.fixture
def app_lines(cf: CF, server: Server, tmp_path: Path) -> Server:
    write(tmp_path / "env.yml", ENV)
    write(tmp_path / ".cloudfauj.yml", APP)
    assert cf("apply", "-f", "env.yml").code == 0
    assert cf("deploy", "--env", "demo", IMAGE).code == 0
    now = utcnow()
    server.service.add_log_line("demo", "web", "task1", "old", at=now - timedelta(hours=2))
    server.service.add_log_line("demo", "web", "task2", "GET / 200", at=now - timedelta(seconds=20))
    server.service.add_log_line("demo", "web", "task1", "GET /ping 200\n", at=now - timedelta(seconds=10))
    return server


@pytest.mark.usefixtures("app_lines")
def test_logs_app_prints_each_line_after_its_task_id_in_time_order(cf: CF) -> None:
    r = cf("logs", "app", "web", "--env", "demo")
    assert r.code == 0, str(r)
    assert r.out.splitlines() == ["task1 old", "task2 GET / 200", "task1 GET /ping 200"]
    assert cf("logs", "apps", "web").out == r.out, "the environment is found when only one has the app"


@pytest.mark.usefixtures("app_lines")
def test_logs_app_since_leaves_out_older_lines(cf: CF) -> None:
    r = cf("logs", "app", "web", "--env", "demo", "--since", "1m")
    assert r.out.splitlines() == ["task2 GET / 200", "task1 GET /ping 200"]
    empty = cf("logs", "app", "web", "--env", "demo", "--since", "5s")
    assert empty.code == 0 and empty.out == "" and "No log lines from application demo/web" in empty.err


@pytest.mark.usefixtures("app_lines")
def test_logs_app_as_json_is_one_array_of_the_lines(cf: CF) -> None:
    lines = cf("logs", "app", "web", "--env", "demo", "-o", "json").json()
    assert [(x["task_id"], x["message"]) for x in lines][0] == ("task1", "old")
    assert set(lines[0]) == {"timestamp", "task_id", "stream", "message"}


@pytest.mark.parametrize("since", ["10x", "10", "1w", "-5m", "1.5h"])
def test_a_bad_since_exits_2_with_one_sentence_before_asking_the_server(
    cf: CF, server: Server, since: str
) -> None:
    r = cf("logs", "app", "web", "--env", "demo", "--since", since)
    assert r.code == 2, str(r)
    assert r.err.strip() == (
        f"Error: --since must be a whole number and a unit, s, m, h or d (like 30s, 10m, 2h or 1d); "
        f"got '{since}'."
    )
    assert server.recorder.requests == []


@pytest.mark.usefixtures("app_lines")
def test_logs_app_of_an_unknown_application_exits_2(cf: CF) -> None:
    r = cf("logs", "app", "nope", "--env", "demo")
    assert r.code == 2 and "Application 'nope' does not exist" in r.err, str(r)


def test_logs_app_follow_prints_new_lines_until_ctrl_c(
    cf: CF, app_lines: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    polls: list[float] = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 1:
            app_lines.service.add_log_line("demo", "web", "task3", "written while following")
        elif len(polls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(logs_command, "sleep", sleep)
    r = cf("logs", "app", "web", "--env", "demo", "--follow", "--since", "1m")
    assert r.code == 0, str(r)
    assert r.out.splitlines() == ["task2 GET / 200", "task1 GET /ping 200", "task3 written while following"]
    assert polls == [logs_command.POLL_SECONDS] * 3
    cursors = [q for m, p, q, _ in app_lines.recorder.requests if p.endswith("/logs")]
    assert len(cursors) == 3 and "cursor=" not in cursors[0] and all("cursor=" in q for q in cursors[1:])


def test_logs_app_follow_as_json_prints_one_object_a_line(
    cf: CF, app_lines: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sleep(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(logs_command, "sleep", sleep)
    r = cf("logs", "app", "web", "--env", "demo", "-f", "-o", "json")
    assert r.code == 0, str(r)
    assert [line.startswith('{"timestamp": ') for line in r.out.splitlines()] == [True] * 3
    assert cf("logs", "app", "web", "-f", "-o", "yaml").code == 2


@pytest.mark.usefixtures("app_lines")
def test_the_record_logs_keep_their_names_beside_logs_app(cf: CF) -> None:
    deployment_id = cf("get", "deployments", "-o", "json").json()[0]["id"]
    for word in ("deployment", "deploy", "deployments", "record", "rec"):
        r = cf("logs", word, deployment_id)
        assert r.code == 0 and "Created the service." in r.out, (word, str(r))
    assert cf("deployment", "logs", deployment_id).out == cf("logs", "deployment", deployment_id).out
    help_text = cf("logs", "--help").out
    assert all(word in help_text for word in ("deployment", "record", "app"))
    assert "deploys" not in help_text, "aliases stay out of the help"
    assert cf("logs", "environment", "demo").code == 2


# -- get --watch ---------------------------------------------------------------------------------------
def test_get_deployments_watch_prints_new_deployments_and_status_changes_until_ctrl_c(
    cf: CF, app_lines: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = app_lines.service
    new_id: list[str] = []

    def sleep(seconds: float) -> None:
        if not new_id:
            new_id.append(
                service.add_record("Application", "web", env="demo", image="web:v2", status="in_progress")
            )
        elif len(new_id) == 1:
            record = service.records[new_id[0]]
            service.records[new_id[0]] = replace(record, status=RecordStatus.SUCCEEDED)
            new_id.append("changed")
        elif len(new_id) == 2:
            new_id.append("quiet")  # nothing changes: nothing printed
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(get_command, "sleep", sleep)
    r = cf("get", "deployments", "--watch")
    assert r.code == 0, str(r)
    header, first, appeared, changed = r.out.splitlines()
    assert header.split()[:5] == ["ID", "APP", "ENV", "IMAGE", "STATUS"] and "succeeded" in first
    assert appeared.split()[0] == new_id[0] and appeared.split()[4] == "in_progress"
    assert changed.split()[0] == new_id[0] and changed.split()[4] == "succeeded"
    for line in (first, appeared, changed):
        assert line.index(" apply ") + 1 == header.index("CAUSE"), "later rows keep the table's columns"


def test_get_watch_starts_from_an_empty_list(cf: CF, server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    def sleep(seconds: float) -> None:
        if server.service.records:
            raise KeyboardInterrupt
        server.service.add_record("Environment", "demo", status="in_progress")

    monkeypatch.setattr(get_command, "sleep", sleep)
    r = cf("get", "records", "-w")
    assert r.code == 0, str(r)
    assert "watching for new ones" in r.err
    assert [line.split()[:2] for line in r.out.splitlines()] == [["ID", "KIND"], ["rec-0001", "Environment"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("get", "environments", "--watch"), "does not take --watch"),
        (("get", "deployments", "7", "--watch"), "logs deployments 7 -f"),
        (("get", "deployments", "-w", "-o", "json"), "does not take -o json"),
    ],
)
def test_get_watch_refuses_what_it_cannot_follow(cf: CF, args: tuple[str, ...], message: str) -> None:
    r = cf(*args)
    assert r.code == 2 and message in r.err, str(r)
