"""`POST /v1/gc`: orphans listed read-only with `dry_run`, else a record that deletes them (202), nothing to
do without orphans (200, no record); the body is required; only an admin may call it."""

from __future__ import annotations

from typing import Any

from cloudfauj.api.testing import FakeService
from cloudfauj.tokens import Role

ORPHAN = {
    "kind": "Application",
    "env": "staging",
    "app": "api",
    "domain": None,
    "type": "ecs:service",
    "arn": "arn:aws:ecs:us-east-1:123456789012:service/cf-x-staging/api",
}


def test_a_dry_run_lists_the_orphans_and_opens_nothing(client: Any, service: FakeService) -> None:
    service.orphans = [ORPHAN]
    r = client.post("/v1/gc", json={"dry_run": True})
    assert r.status_code == 200, r.text
    assert r.json() == {"dry_run": True, "orphans": [ORPHAN], "records": []}
    assert service.records == {}


def test_a_real_run_answers_202_with_the_record_of_the_deletion(client: Any, service: FakeService) -> None:
    service.orphans = [ORPHAN]
    r = client.post("/v1/gc", json={"dry_run": False})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["orphans"] == [ORPHAN]
    (record,) = body["records"]
    assert record["kind"] == "GarbageCollection" and record["cause"] == "delete"
    again = client.post("/v1/gc", json={"dry_run": False})
    assert again.status_code == 200 and again.json()["records"] == []  # nothing left: no record


def test_the_body_must_say_whether_it_is_a_dry_run(client: Any) -> None:
    for body in ({}, {"dry_run": "yes"}, {"dry_run": True, "force": True}):
        r = client.post("/v1/gc", json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_input", r.text


def test_only_an_admin_may_collect_garbage(app: Any, client: Any, service: FakeService) -> None:
    service.add_token("cf_deployer-secret", name="ci", role=Role.DEPLOYER)
    r = client.post("/v1/gc", json={"dry_run": True}, headers={"Authorization": "Bearer cf_deployer-secret"})
    assert r.status_code == 403, r.text
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/v1/gc"]["post"]["responses"]
    assert {"200", "202", "400", "401", "403"} <= set(responses)
