"""Reading an application's log lines (`cloudfauj.logs`): the `--since` durations, the follow cursor that
neither repeats nor skips lines of one millisecond, and the reader against the sandbox's CloudWatch Logs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cloudfauj.aws import Gateway
from cloudfauj.errors import CloudfaujError, InvalidInput, NotFound
from cloudfauj.logs import Cursor, log_group_of, log_line, parse_since, read_app_logs
from cloudfauj.manifests import Source
from cloudfauj.service import Service
from cloudfauj.settings import Settings
from cloudfauj.store import SqliteStore

NOW = datetime(2026, 11, 25, 19, 2, 43, 123456, tzinfo=UTC)
NOW_MS = 1_795_633_363_123
GROUP = "/cloudfauj/staging"


def event(at: int, event_id: str, stream: str = "web/web/t1", message: str = "hello") -> dict[str, Any]:
    return {"timestamp": at, "eventId": event_id, "logStreamName": stream, "message": message}


# -- since ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "ms"),
    [("30s", 30_000), ("10m", 600_000), ("2h", 7_200_000), ("1d", 86_400_000), ("0s", 0), ("90m", 5_400_000)],
)
def test_since_takes_a_whole_number_and_a_unit(text: str, ms: int) -> None:
    assert parse_since(text) == ms


@pytest.mark.parametrize("text", ["", "10", "m", "1.5h", "-1m", "10x", "1w", "10 m", "10M", "1h30m"])
def test_since_refuses_anything_else(text: str) -> None:
    assert parse_since(text) is None


def test_the_first_read_starts_since_ago_or_at_the_beginning() -> None:
    assert NOW_MS == int(NOW.timestamp() * 1000)
    assert Cursor.starting(None, now=NOW) == Cursor(0)
    assert Cursor.starting("10m", now=NOW) == Cursor(NOW_MS - 600_000)
    assert Cursor.starting("1000000d", now=NOW) == Cursor(0), "before the epoch means everything"


def test_a_bad_since_or_cursor_is_invalid_input_naming_the_parameter() -> None:
    with pytest.raises(InvalidInput) as since:
        Cursor.starting("10x", now=NOW)
    assert since.value.problems[0].field == "since" and "like 30s, 10m, 2h or 1d" in since.value.message
    for text in ("", "abc", "12:zz", "12:abc", "-1:", "12:0123456789ab,"):
        with pytest.raises(InvalidInput) as cursor:
            Cursor.decode(text)
        assert cursor.value.problems[0].field == "cursor", text


# -- the cursor ---------------------------------------------------------------------------------------------
def test_a_cursor_survives_its_text_form() -> None:
    cursor = Cursor(0).after([event(5, "a"), event(5, "b"), event(4, "c")])
    assert Cursor.decode(cursor.encode()) == cursor
    assert cursor.encode().startswith("5:") and len(cursor.seen) == 2
    assert Cursor.decode("0:") == Cursor(0)


def test_lines_of_one_millisecond_are_neither_repeated_nor_skipped() -> None:
    first = [event(5, "a"), event(5, "b")]
    cursor = Cursor(0).after(first)
    # The next read starts at millisecond 5 again: a and b come back, and c arrived since, at the same ms.
    again = [*first, event(5, "c"), event(6, "d")]
    new = [e for e in again if cursor.is_new(e)]
    assert [e["eventId"] for e in new] == ["c", "d"]
    assert not cursor.is_new(event(4, "z")), "older than the cursor: already read"


def test_the_seen_ids_accumulate_within_a_millisecond_and_reset_after_it() -> None:
    cursor = Cursor(0).after([event(5, "a")]).after([event(5, "b")])
    assert not cursor.is_new(event(5, "a")) and not cursor.is_new(event(5, "b"))
    later = cursor.after([event(7, "c")])
    assert later.timestamp == 7 and len(later.seen) == 1
    assert cursor.after([]) is cursor


def test_a_line_carries_its_time_task_and_stream() -> None:
    line = log_line(event(NOW_MS, "1", "nginx_api/nginx_api/0f3a9c", "GET / 200\n"))
    assert line == {
        "timestamp": "2026-11-25T19:02:43.123000Z",
        "task_id": "0f3a9c",
        "stream": "nginx_api/nginx_api/0f3a9c",
        "message": "GET / 200\n",
    }


def test_the_log_group_is_the_observed_one_else_the_environments() -> None:
    def obj(name: str, outputs: dict[str, str]) -> dict[str, Any]:
        return {"metadata": {"name": name}, "status": {"outputs": outputs}}

    env = obj("staging", {"log_group": "/cloudfauj/staging"})
    assert log_group_of(obj("web", {"log_group": "/elsewhere"}), env) == "/elsewhere"
    assert log_group_of(obj("web", {}), env) == "/cloudfauj/staging"
    assert log_group_of({"metadata": {}, "status": {}}, {"metadata": {"name": "new"}}) == "/cloudfauj/new"


# -- against the sandbox -------------------------------------------------------------------------------
@pytest.fixture
def gateway(sandbox: str) -> Gateway:
    return Gateway(
        region="us-east-1", endpoint_url=sandbox, installation_id="test", credentials=("testing", "testing")
    )


@pytest.fixture
def put(aws: Callable[[str], Any]) -> Callable[[str, list[tuple[int, str]]], None]:
    logs = aws("logs")
    logs.create_log_group(logGroupName=GROUP)

    def write(stream: str, lines: list[tuple[int, str]]) -> None:
        if not logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=stream)["logStreams"]:
            logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        logs.put_log_events(
            logGroupName=GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": at, "message": text} for at, text in lines],
        )

    return write


def read(gateway: Gateway, start: Cursor, limit: int = 1000) -> dict[str, Any]:
    return read_app_logs(gateway, log_group=GROUP, app="web", start=start, limit=limit)


def test_every_task_is_read_interleaved_by_time(gateway: Gateway, put: Any) -> None:
    put("web/web/task1", [(NOW_MS, "one"), (NOW_MS + 20, "three")])
    put("web/web/task2", [(NOW_MS + 10, "two"), (NOW_MS + 30, "four")])
    page = read(gateway, Cursor(0))
    assert [(x["task_id"], x["message"]) for x in page["items"]] == [
        ("task1", "one"),
        ("task2", "two"),
        ("task1", "three"),
        ("task2", "four"),
    ]
    assert page["more"] is False
    assert [x["message"] for x in read(gateway, Cursor(NOW_MS + 15))["items"]] == ["three", "four"]


def test_reading_on_from_the_cursor_gives_each_line_once(gateway: Gateway, put: Any) -> None:
    put("web/web/task1", [(NOW_MS, "a"), (NOW_MS, "b"), (NOW_MS + 1, "c")])
    put("web/web/task2", [(NOW_MS, "x")])
    seen: list[str] = []
    cursor = Cursor(0)
    for _ in range(5):  # two lines a page: the cut falls inside millisecond NOW_MS
        page = read(gateway, cursor, limit=2)
        seen += [x["message"] for x in page["items"]]
        cursor = Cursor.decode(page["next_cursor"])
        if not page["more"]:
            break
    assert sorted(seen) == ["a", "b", "c", "x"] and seen[-1] == "c"
    put("web/web/task2", [(NOW_MS + 1, "d")])  # written later, in the millisecond last read
    page = read(gateway, cursor)
    assert [x["message"] for x in page["items"]] == ["d"]
    assert read(gateway, Cursor.decode(page["next_cursor"]))["items"] == []


def test_a_log_group_that_does_not_exist_yet_has_no_lines(gateway: Gateway) -> None:
    page = read_app_logs(gateway, log_group="/cloudfauj/nowhere", app="web", start=Cursor(42), limit=10)
    assert page == {"items": [], "next_cursor": "42:", "more": False}


def test_lines_of_other_apps_in_the_group_are_not_read(gateway: Gateway, put: Any) -> None:
    put("web/web/task1", [(NOW_MS, "mine")])
    put("web2/web2/task9", [(NOW_MS, "not mine")])
    assert [x["message"] for x in read(gateway, Cursor(0))["items"]] == ["mine"]


# -- through the service --------------------------------------------------------------------------------
def test_the_service_reads_the_apps_group_and_refuses_unknown_names(
    tmp_path: Path, gateway: Gateway, put: Any
) -> None:
    store = SqliteStore(tmp_path / "db")
    service = Service(store, Settings(), enqueue=lambda key: None, ready=lambda: True)
    env = "name: staging\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
    app = (
        "name: web\ntype: server\nhealthcheck: {path: /}\nvisibility: public\n"
        "resources: {cpu: 256, memory: 512, network: {bind_port: 80}}\n"
    )
    args = {"deadline_seconds": None, "source": None, "force": False, "initiator": None}
    service.apply([Source("env.yml", env)], env=None, image=None, **args)  # type: ignore[arg-type]
    service.apply([Source("app.yml", app)], env="staging", image="nginx:1", **args)  # type: ignore[arg-type]
    try:
        with pytest.raises(CloudfaujError, match="without AWS access"):
            service.app_logs("staging", "web", since=None, cursor=None, limit=10)
        service.aws = gateway  # only now: the applies above needed no AWS
        put("web/web/task1", [(NOW_MS, "hello")])
        page = service.app_logs("staging", "web", since=None, cursor=None, limit=10)
        assert [(x["task_id"], x["message"]) for x in page["items"]] == [("task1", "hello")]
        assert (
            service.app_logs("staging", "web", since="1s", cursor=page["next_cursor"], limit=10)["items"]
            == []
        )
        with pytest.raises(NotFound):
            service.app_logs("staging", "nope", since=None, cursor=None, limit=10)
        with pytest.raises(NotFound):
            service.app_logs("nowhere", "web", since=None, cursor=None, limit=10)
        with pytest.raises(InvalidInput):
            service.app_logs("staging", "web", since="soon", cursor=None, limit=10)
    finally:
        store.close()
