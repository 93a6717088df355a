"""Who may do what, in-process: every /v1 operation needs a token, the role decides, tokens are managed
through the API and never shown twice. (tests/e2e/test_auth.py runs the whole matrix on a real server.)
"""

from __future__ import annotations

from typing import Any

import pytest

from cloudfauj.api.routes import OPERATIONS
from cloudfauj.api.testing import FakeService
from cloudfauj.tokens import Role

ENV = "name: demo\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
APP = "name: web\ntype: server\n"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def tokens(service: FakeService) -> dict[str, dict[str, str]]:
    """Headers of a viewer, a deployer and a revoked deployer token."""
    service.add_token("cf_viewer", name="ann", role=Role.VIEWER)
    service.add_token("cf_deployer", name="ci", role=Role.DEPLOYER)
    service.add_token("cf_revoked", name="old", role=Role.DEPLOYER)
    service.revoke_token("old")
    return {"viewer": bearer("cf_viewer"), "deployer": bearer("cf_deployer"), "revoked": bearer("cf_revoked")}


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert set(body) == {"code", "message", "details"}
    return dict(body)


def test_probes_and_the_document_are_open_and_every_v1_operation_needs_a_token(anonymous: Any) -> None:
    assert anonymous.get("/healthz").status_code == 200
    assert anonymous.get("/readyz").status_code == 200
    assert anonymous.get("/openapi.json").status_code == 200
    v1 = [op for op in OPERATIONS if op.path.startswith("/v1/")]
    assert v1 and all(op.role is not None for op in v1)
    for op in v1:
        path = op.path.replace("{", "").replace("}", "")  # any value: the token is checked first
        r = anonymous.request(op.method, path)
        assert error(r, 401)["code"] == "unauthorized", (op.method, op.path)
        assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "cf_fake-admin-token", "Bearer cf_nope"]
)
def test_a_missing_malformed_or_unknown_token_is_401(anonymous: Any, header: str) -> None:
    r = anonymous.get("/v1/environments", headers={"Authorization": header})
    assert error(r, 401)["code"] == "unauthorized"


def test_a_stranger_gets_401_before_any_body_is_read_or_parsed(anonymous: Any) -> None:
    assert anonymous.post("/v1/apply", content=b"#" * 10_000).status_code == 401  # not 413
    assert anonymous.get("/v1/records?limit=0").status_code == 401  # not 400


def test_a_revoked_token_is_refused(client: Any, tokens: dict[str, dict[str, str]]) -> None:
    assert error(client.get("/v1/environments", headers=tokens["revoked"]), 401)["code"] == "unauthorized"


def test_a_viewer_reads_everything_and_changes_nothing(
    client: Any, tokens: dict[str, dict[str, str]]
) -> None:
    viewer = tokens["viewer"]
    assert client.get("/v1/environments", headers=viewer).status_code == 200
    assert client.get("/v1/tokens", headers=viewer).status_code == 200
    r = client.post("/v1/apply", json={"sources": [{"name": "a.yml", "content": APP}]}, headers=viewer)
    message = error(r, 403)["message"]
    assert "'ann' is a viewer token" in message and "deployer or admin" in message


def test_a_deployer_applies_applications_only(client: Any, tokens: dict[str, dict[str, str]]) -> None:
    deployer = tokens["deployer"]
    client.post("/v1/apply", json={"sources": [{"name": "e.yml", "content": ENV}]})
    app = {"sources": [{"name": "a.yml", "content": APP}], "env": "demo", "image": IMAGE}
    assert client.post("/v1/apply", json=app, headers=deployer).status_code == 202
    assert client.post("/v1/diff", json=app, headers=deployer).status_code == 200
    both = {"sources": [{"name": "a.yml", "content": APP}, {"name": "e.yml", "content": ENV}], "env": "demo"}
    for path in ("/v1/apply", "/v1/diff"):
        message = error(client.post(path, json=both, headers=deployer), 403)["message"]
        assert "Environment 'demo'" in message and "admin token" in message


def test_a_deployer_deletes_reconciles_and_cancels_applications_only(
    client: Any, service: FakeService, tokens: dict[str, dict[str, str]]
) -> None:
    deployer = tokens["deployer"]
    client.post("/v1/apply", json={"sources": [{"name": "e.yml", "content": ENV}]})
    client.post("/v1/apply", json={"sources": [{"name": "a.yml", "content": APP}], "env": "demo"})
    env_record = service.add_record("Environment", "demo", status="in_progress")
    app_record = service.add_record("Application", "web", env="demo", status="in_progress")
    refused = client.post(f"/v1/records/{env_record}/cancel", headers=deployer)
    assert "may not cancel the record of Environment 'demo'" in error(refused, 403)["message"]
    assert client.post(f"/v1/records/{app_record}/cancel", headers=deployer).status_code == 202
    assert client.post("/v1/environments/demo/reconcile", headers=deployer).status_code == 403
    assert client.post("/v1/applications/demo/web/reconcile", headers=deployer).status_code == 202
    assert client.delete("/v1/environments/demo", headers=deployer).status_code == 403
    assert client.delete("/v1/applications/demo/web", headers=deployer).status_code == 202
    new_token = {"name": "x", "role": "viewer"}
    assert client.post("/v1/tokens", json=new_token, headers=deployer).status_code == 403


def test_an_admin_creates_lists_and_revokes_tokens(client: Any, anonymous: Any) -> None:
    r = client.post("/v1/tokens", json={"name": "ci-web", "role": "deployer"})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    created = r.json()
    assert set(created) == {"name", "role", "token"} and created["token"].startswith("cf_")
    listed = client.get("/v1/tokens").json()
    assert [t["name"] for t in listed["items"]] == ["admin", "ci-web"]
    assert created["token"] not in str(listed) and all("hash" not in k for t in listed["items"] for k in t)
    assert anonymous.get("/v1/environments", headers=bearer(created["token"])).status_code == 200
    revoked = client.delete("/v1/tokens/ci-web").json()
    assert revoked["name"] == "ci-web" and revoked["revoked_at"]
    assert anonymous.get("/v1/environments", headers=bearer(created["token"])).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "ci", "role": "root"}, "role"),
        ({"name": "ci"}, "role"),
        ({"name": "Bad Name", "role": "viewer"}, "name"),
        ({"name": "ci", "role": "viewer", "secret": "x"}, "secret"),
    ],
)
def test_a_bad_token_request_is_400_naming_the_field(client: Any, body: dict[str, Any], field: str) -> None:
    assert [p["field"] for p in error(client.post("/v1/tokens", json=body), 400)["details"]] == [field]


def test_a_token_name_is_taken_once_and_unknown_names_are_404(client: Any) -> None:
    client.post("/v1/tokens", json={"name": "ci", "role": "viewer"})
    assert error(client.post("/v1/tokens", json={"name": "ci", "role": "viewer"}), 409)["code"] == "conflict"
    assert error(client.delete("/v1/tokens/nobody"), 404)["code"] == "not_found"


def test_the_document_declares_the_bearer_scheme_and_who_may_call_what(client: Any) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearer"]["description"],
    }
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if not path.startswith("/v1/"):
                assert op["security"] == [] and "401" not in op["responses"], (method, path)
                continue
            assert op["security"] == [{"bearer": []}], (method, path)
            assert "401" in op["responses"], (method, path)
            assert ("403" in op["responses"]) == (op["x-role"] != "viewer"), (method, path)
    assert doc["paths"]["/v1/environments"]["get"]["x-role"] == "viewer"
    assert doc["paths"]["/v1/apply"]["post"]["x-role"] == "deployer"
    assert doc["paths"]["/v1/environments/{name}"]["delete"]["x-role"] == "admin"
    assert doc["paths"]["/v1/applications/{env}/{name}"]["delete"]["x-role"] == "deployer"
    assert doc["paths"]["/v1/tokens"]["post"]["x-role"] == "admin"
