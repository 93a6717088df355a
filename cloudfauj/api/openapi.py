"""`/openapi.json`: an OpenAPI 3.1 document generated from the operation list and its pydantic models.

Built once per app from `routes.OPERATIONS`, the same list the router is built from, so the document
cannot describe a route that does not exist or miss one that does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from cloudfauj.api.models import ErrorBody
from cloudfauj.api.routes import Operation

__all__ = ["build_openapi"]

REF = "#/components/schemas/{model}"
ERROR_MEANING = {
    400: "Invalid input: the body, a parameter or a manifest (details lists each problem)",
    404: "No such object or record",
    409: "Conflicts with stored state",
    413: "Request body too large",
    422: "Unprocessable",
}


def build_openapi(operations: Iterable[Operation], *, version: str) -> dict[str, Any]:
    operations = list(operations)
    schemas, components = _schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schemas, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Cloudfauj",
            "version": version,
            "description": "Desired state in, reconciliation records out (ARCHITECTURE §6).",
        },
        "paths": paths,
        "components": {"schemas": components},
    }


Mode = Literal["validation", "serialization"]


def _schemas(operations: list[Operation]) -> tuple[dict[tuple[type[BaseModel], Mode], Any], dict[str, Any]]:
    """One schema (a `$ref`) per body and response model, and every definition they need."""
    wanted: dict[tuple[type[BaseModel], Mode], None] = {(ErrorBody, "serialization"): None}
    for op in operations:
        if op.body:
            wanted[(op.body, "validation")] = None
        for model in [op.response, *op.also.values()]:
            if model:
                wanted[(model, "serialization")] = None
    refs, top = models_json_schema(list(wanted), ref_template=REF)
    # pydantic keys `refs` by model or dataclass; ours are the models asked for, so we look them up by those.
    return {key: refs[key] for key in wanted}, dict(top.get("$defs", {}))


def _operation(
    op: Operation, schemas: dict[tuple[type[BaseModel], Mode], Any], components: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": re.sub(r"\W+", "_", f"{op.method} {op.path}").strip("_").lower(),
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _path_parameters(op.path) + _query_parameters(op.query, components),
        "responses": {str(op.status): _success(op, schemas)},
    }
    for status, model in op.also.items():
        out["responses"][str(status)] = _json_response(
            model.__doc__ or model.__name__, schemas[(model, "serialization")]
        )
    out["responses"]["default"] = _json_response(
        "Unexpected server error (500)", schemas[(ErrorBody, "serialization")]
    )
    for status in op.errors:
        out["responses"][str(status)] = _json_response(
            ERROR_MEANING[status], schemas[(ErrorBody, "serialization")]
        )
    if op.body:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas[(op.body, "validation")]}},
        }
    return out


def _success(op: Operation, schemas: dict[tuple[type[BaseModel], Mode], Any]) -> dict[str, Any]:
    if op.response is not None:
        return _json_response(op.summary, schemas[(op.response, "serialization")])
    schema = {"type": "string"} if op.media_type == "text/event-stream" else {"type": "object"}
    return {"description": op.summary, "content": {op.media_type: {"schema": schema}}}


def _json_response(description: str, schema: Any) -> dict[str, Any]:
    return {"description": description.strip(), "content": {"application/json": {"schema": schema}}}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ]


def _query_parameters(model: type[BaseModel] | None, components: dict[str, Any]) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema(ref_template=REF)
    components.update(schema.get("$defs", {}))
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        param = {"name": name, "in": "query", "required": name in required, "schema": _not_null(prop)}
        if "description" in prop:
            param["description"] = prop["description"]
        params.append(param)
    return params


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """`str | None` is how a model says "optional"; a query parameter is absent, never null."""
    options = [o for o in prop.get("anyOf", []) if o != {"type": "null"}]
    if len(options) != 1:
        return prop
    out = {k: v for k, v in prop.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**options[0], **out}
