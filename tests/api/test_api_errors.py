"""Every client mistake is a 4xx with the `{"error": {code, message, details}}` body; bugs are a bare 500."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from cloudfauj.api.testing import FakeService

ENV = "name: demo\nnetwork: aws\norchestrator: aws_ecs_fargate\n"


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    return dict(error)


def body(**fields: Any) -> dict[str, Any]:
    return {"sources": [{"name": "e.yml", "content": ENV}], **fields}


def test_invalid_manifests_are_400_with_each_problem_located(client: Any) -> None:
    r = client.post("/v1/apply", json={"sources": [{"name": "bad.yml", "content": "name: [demo\n"}]})
    error = error_of(r, 400)
    assert error["code"] == "invalid_input"
    (problem,) = error["details"]
    assert problem["file"] == "bad.yml" and problem["line"] and "bad.yml" in problem["sentence"]


def test_an_unknown_object_or_record_is_404(client: Any) -> None:
    assert error_of(client.get("/v1/environments/nowhere"), 404)["code"] == "not_found"
    assert error_of(client.get("/v1/applications/demo/web"), 404)["code"] == "not_found"
    assert error_of(client.get("/v1/records/nope/events"), 404)["code"] == "not_found"
    assert error_of(client.delete("/v1/domains/example.com"), 404)["code"] == "not_found"


def test_deleting_an_environment_with_applications_is_409(client: Any) -> None:
    client.post("/v1/apply", json=body())
    client.post("/v1/apply", json={"sources": [{"name": "a.yml", "content": "name: web\n"}], "env": "demo"})
    error = error_of(client.delete("/v1/environments/demo"), 409)
    assert error["code"] == "conflict" and "web" in error["message"]


def test_a_body_over_the_limit_is_413_by_its_declared_length(client: Any) -> None:
    big = {"sources": [{"name": "e.yml", "content": "#" * 5000}]}
    assert error_of(client.post("/v1/apply", json=big), 413)["code"] == "payload_too_large"


def test_a_body_over_the_limit_is_413_when_streamed_without_a_length(client: Any) -> None:
    def chunks() -> Any:
        for _ in range(10):
            yield b" " * 1000

    r = client.post("/v1/apply", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in r.request.headers
    error_of(r, 413)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (body(colour="blue"), "colour"),
        (body(force="yes"), "force"),
        (body(deadline_seconds=5), "deadline_seconds"),
        (body(source="x" * 1001), "source"),
        ({"sources": []}, "sources"),
        ({"sources": [{"name": "e.yml"}]}, "sources.0.content"),
        ({"sources": [{"name": "e.yml", "content": 3}]}, "sources.0.content"),
        ([1, 2], None),
    ],
)
def test_a_mistyped_body_is_400_naming_the_field(client: Any, payload: Any, field: str | None) -> None:
    error = error_of(client.post("/v1/apply", json=payload), 400)
    assert [p["field"] for p in error["details"]] == [field]


def test_malformed_json_is_400(client: Any) -> None:
    r = client.post("/v1/apply", content=b'{"sources": [', headers={"content-type": "application/json"})
    error = error_of(r, 400)
    assert "not valid JSON" in error["message"]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=501", "limit=ten", "colour=blue", "status=done", "kind=Vpc"]
)
def test_bad_query_parameters_are_400(client: Any, query: str) -> None:
    field = query.split("=")[0]
    error = error_of(client.get(f"/v1/records?{query}"), 400)
    assert [p["field"] for p in error["details"]] == [field]


def test_bad_query_parameters_of_single_objects_are_400_too(client: Any) -> None:
    assert error_of(client.get("/v1/records/x/events?after=-1"), 400)["details"][0]["field"] == "after"
    assert (
        error_of(client.delete("/v1/environments/demo?cascade=maybe"), 400)["details"][0]["field"]
        == "cascade"
    )
    assert error_of(client.get("/v1/environments/demo?verbose=1"), 400)["details"][0]["field"] == "verbose"


def test_an_unknown_path_is_a_json_404(client: Any) -> None:
    assert error_of(client.get("/v2/anything"), 404)["code"] == "not_found"


def test_a_wrong_method_is_a_json_405_saying_what_is_allowed(client: Any) -> None:
    r = client.put("/v1/apply", json=body())
    error = error_of(r, 405)
    assert (
        error["code"] == "method_not_allowed" and "POST" in error["message"] and "POST" in r.headers["allow"]
    )


def test_an_unexpected_error_is_a_generic_500_and_is_logged(
    client: Any, service: FakeService, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "list_objects", broken)
    with caplog.at_level(logging.ERROR, logger="cloudfauj.api"):
        error = error_of(client.get("/v1/environments"), 500)
    assert error["code"] == "internal_error" and "secret" not in error["message"]
    assert any(r.exc_info and "secret internals" in str(r.exc_info[1]) for r in caplog.records)
