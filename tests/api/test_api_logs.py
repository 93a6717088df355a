"""`GET /v1/environments/{env}/applications/{name}/logs`: an application's lines in time order, read on
from a cursor, with its parameters checked and documented."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from cloudfauj.api.testing import FakeService
from cloudfauj.records import utcnow

ENV = "name: demo\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
APP = "name: web\ntype: server\n"
LOGS = "/v1/environments/demo/applications/web/logs"


@pytest.fixture
def app_with_lines(client: Any, service: FakeService) -> FakeService:
    for content, extra in ((ENV, {}), (APP, {"env": "demo", "image": "nginx:1"})):
        r = client.post("/v1/apply", json={"sources": [{"name": "f.yml", "content": content}], **extra})
        assert r.status_code == 202, r.text
    now = utcnow()
    service.add_log_line("demo", "web", "task1", "old", at=now - timedelta(hours=2))
    service.add_log_line("demo", "web", "task2", "two", at=now - timedelta(seconds=20))
    service.add_log_line("demo", "web", "task1", "three", at=now - timedelta(seconds=10))
    service.add_log_line("demo", "web2", "task9", "another app's", at=now - timedelta(seconds=5))
    return service


@pytest.mark.usefixtures("app_with_lines")
def test_the_lines_of_every_task_come_oldest_first(client: Any) -> None:
    r = client.get(LOGS)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(x["task_id"], x["message"]) for x in body["items"]] == [
        ("task1", "old"),
        ("task2", "two"),
        ("task1", "three"),
    ]
    first = body["items"][0]
    assert first["stream"] == "web/web/task1" and first["timestamp"].endswith("Z")
    assert len(first["timestamp"]) == len("2026-11-25T19:02:43.123456Z")
    assert body["more"] is False and body["next_cursor"]


def test_since_and_the_cursor_say_where_to_start(client: Any, app_with_lines: FakeService) -> None:
    assert [x["message"] for x in client.get(LOGS, params={"since": "1m"}).json()["items"]] == [
        "two",
        "three",
    ]
    page = client.get(LOGS, params={"limit": 2}).json()
    assert [x["message"] for x in page["items"]] == ["old", "two"] and page["more"] is True
    rest = client.get(LOGS, params={"cursor": page["next_cursor"], "since": "1m"}).json()
    assert [x["message"] for x in rest["items"]] == ["three"] and rest["more"] is False
    app_with_lines.add_log_line("demo", "web", "task3", "four")
    newer = client.get(LOGS, params={"cursor": rest["next_cursor"]}).json()
    assert [x["message"] for x in newer["items"]] == ["four"]
    call = [args for name, args in app_with_lines.calls if name == "app_logs"][-1]
    assert call == {"env": "demo", "name": "web", "since": None, "cursor": rest["next_cursor"], "limit": 1000}


@pytest.mark.usefixtures("app_with_lines")
def test_an_unknown_application_or_environment_is_404(client: Any) -> None:
    for path in (LOGS.replace("/web/", "/nope/"), LOGS.replace("/demo/", "/nope/")):
        r = client.get(path)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text


@pytest.mark.usefixtures("app_with_lines")
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "10x"}, "since"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 10001}, "limit"),
        ({"tail": 5}, "tail"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(client: Any, params: dict[str, Any], field: str) -> None:
    r = client.get(LOGS, params=params)
    assert r.status_code == 400, r.text
    assert [p["field"] for p in r.json()["error"]["details"]] == [field]


def test_the_operation_is_documented_with_its_parameters_and_errors(client: Any) -> None:
    op = client.get("/openapi.json").json()["paths"]["/v1/environments/{env}/applications/{name}/logs"]["get"]
    assert [p["name"] for p in op["parameters"]] == ["env", "name", "since", "cursor", "limit"]
    assert {"200", "400", "404"} <= set(op["responses"])
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AppLogPage"
    }
