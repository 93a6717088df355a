"""`/openapi.json` documents every route the app serves, with its parameters and every error it can return."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

ERROR_REF = "#/components/schemas/ErrorBody"


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method.upper(), path): op for path, item in doc["paths"].items() for method, op in item.items()}


def test_the_document_lists_exactly_the_routes_the_app_serves(client: Any) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    served = {
        (method, route.path)
        for route in client.app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert set(operations(doc)) == served
    assert ("GET", "/v1/records/{id}/events/stream") in served and ("POST", "/v1/apply") in served


def test_every_error_status_is_declared_with_the_error_schema(client: Any) -> None:
    ops = operations(client.get("/openapi.json").json())
    expected = {
        ("POST", "/v1/apply"): {"400", "409", "413"},
        ("GET", "/v1/environments/{name}"): {"400", "404"},
        ("DELETE", "/v1/environments/{name}"): {"400", "404", "409"},
        ("DELETE", "/v1/applications/{env}/{name}"): {"400", "404", "409"},
        ("GET", "/v1/records"): {"400"},
        ("GET", "/v1/deployments/{id}"): {"400", "404"},
        ("GET", "/v1/records/{id}/events/stream"): {"400", "404"},
    }
    for key, statuses in expected.items():
        responses = ops[key]["responses"]
        assert statuses <= set(responses), (key, set(responses))
        for status in statuses:
            assert responses[status]["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}


def test_every_reference_resolves_to_a_component(client: Any) -> None:
    doc = client.get("/openapi.json").json()
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            refs.extend([node["$ref"]] if "$ref" in node else [])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    names = set(doc["components"]["schemas"])
    assert refs and {r.removeprefix("#/components/schemas/") for r in refs} <= names
    assert {"ApplyRequest", "RecordOut", "StoredObjectOut", "ErrorBody"} <= names


def test_parameters_come_from_the_query_models_and_paths(client: Any) -> None:
    ops = operations(client.get("/openapi.json").json())
    params = {p["name"]: p for p in ops[("GET", "/v1/deployments")]["parameters"]}
    assert set(params) == {"limit", "cursor", "env", "app", "status"}
    assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (1, 500)
    assert "pending" in params["status"]["schema"]["enum"]
    path_params = [
        p["name"] for p in ops[("GET", "/v1/applications/{env}/{name}")]["parameters"] if p["in"] == "path"
    ]
    assert path_params == ["env", "name"]
    apply = ops[("POST", "/v1/apply")]
    assert apply["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ApplyRequest"
    }
    assert "202" in apply["responses"]
