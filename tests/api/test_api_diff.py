"""`POST /v1/diff` takes an apply's body and answers what that apply would change, changing nothing;
`/openapi.json` documents it with its response model and error statuses."""

from __future__ import annotations

from typing import Any

from cloudfauj.api.testing import FakeService

ENV = "name: demo\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
APP = "name: web\ntype: server\n"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1"


def post(client: Any, path: str, content: str, **extra: Any) -> Any:
    return client.post(path, json={"sources": [{"name": "f.yml", "content": content}], **extra})


def test_diff_answers_200_with_each_object_and_stores_nothing(client: Any, service: FakeService) -> None:
    r = post(client, "/v1/diff", ENV)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "changed": True,
        "objects": [
            {
                "kind": "Environment",
                "name": "demo",
                "env": None,
                "action": "create",
                "changes": [
                    {
                        "resource": "environment",
                        "action": "create",
                        "fields": [
                            {"path": "network", "old": None, "new": "aws"},
                            {"path": "orchestrator", "old": None, "new": "aws_ecs_fargate"},
                        ],
                    }
                ],
                "message": None,
            }
        ],
    }
    assert service.objects == {} and service.records == {}


def test_diff_passes_the_apply_parameters_it_uses_through(client: Any, service: FakeService) -> None:
    assert post(client, "/v1/apply", ENV).status_code == 202
    r = post(client, "/v1/diff", APP, env="demo", image=IMAGE, force=True, source="ci", deadline_seconds=60)
    assert r.status_code == 200, r.text
    assert r.json()["objects"][0]["action"] == "create"
    ((_, call),) = [c for c in service.calls if c[0] == "diff"]
    assert (call["env"], call["image"], call["force"]) == ("demo", IMAGE, True)
    r = post(client, "/v1/diff", ENV)
    assert r.json() == {
        "changed": False,
        "objects": [
            {
                "kind": "Environment",
                "name": "demo",
                "env": None,
                "action": "unchanged",
                "changes": [],
                "message": None,
            }
        ],
    }


def test_diff_refuses_what_apply_refuses_with_400(client: Any) -> None:
    r = post(client, "/v1/diff", "name: [demo\n")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_input", r.text
    r = post(client, "/v1/diff", ENV, colour="blue")
    assert r.status_code == 400 and r.json()["error"]["details"][0]["field"] == "colour", r.text
    assert client.post("/v1/diff", json={"sources": []}).status_code == 400
    assert client.get("/v1/diff").status_code == 405


def test_the_document_declares_diff_with_its_result_and_errors(client: Any) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/v1/diff"]["post"]
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/DiffResult"}
    assert {"400", "413"} <= set(op["responses"])
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ApplyRequest"
    }
    schemas = doc["components"]["schemas"]
    assert set(schemas["DiffObjectOut"]["properties"]["action"]["enum"]) == {
        "create",
        "update",
        "unchanged",
        "waiting",
        "blocked",
    }
    assert {"path", "old", "new"} <= set(schemas["FieldChangeOut"]["properties"])
