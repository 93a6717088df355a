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
from cloudfauj.manifests.names import DNS_NAME_MAX
from controllers import naming

__all__ = ["build_openapi"]

REF = "#/components/schemas/{model}"
ERROR_MEANING = {
    400: "Invalid input: the body, a parameter or a manifest (details lists each problem)",
    401: "No API token, or one that is unknown or revoked",
    403: "The token's role may not do this",
    404: "No such object or record",
    409: "Conflicts with stored state",
    413: "Request body too large",
    422: "Unprocessable",
    502: "AWS refused the server's own read (e.g. access denied); the message says what AWS said",
    503: "This server cannot serve it now (started without AWS access or a planner, or AWS is throttling)",
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
        "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
    }


Mode = Literal["validation", "serialization"]

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (`cloudfauj token create`); roles: viewer, deployer, admin.",
    }
}


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
        # Open operations say so with an empty list; the others need a token of at least `x-role`.
        "security": [{"bearer": []}] if op.role else [],
    }
    if op.role:
        out["x-role"] = str(op.role)
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
    schema = {"application/json": {"type": "object"}, "text/event-stream": _STREAM_EVENT}.get(
        op.media_type, {"type": "string"}
    )
    return {"description": op.summary, "content": {op.media_type: {"schema": schema}}}


def _json_data(model: str) -> dict[str, Any]:
    return {
        "type": "string",
        "contentMediaType": "application/json",
        "contentSchema": {"$ref": REF.format(model=model)},
    }


# One server-sent event of a record's stream (OpenAPI 3.1 has the schema of an event stream describe each
# event): `event` frames carry an event and its seq as `id`; `record` and `end` frames the record.
_STREAM_EVENT = {
    "oneOf": [
        {
            "type": "object",
            "required": ["event", "data", "id"],
            "properties": {
                "event": {"const": "event"},
                "id": {"type": "string", "pattern": "^[0-9]+$"},
                "data": _json_data("EventOut"),
            },
        },
        {
            "type": "object",
            "required": ["event", "data"],
            "properties": {"event": {"enum": ["record", "end"]}, "data": _json_data("RecordOut")},
        },
    ]
}


def _json_response(description: str, schema: Any) -> dict[str, Any]:
    return {"description": description.strip(), "content": {"application/json": {"schema": schema}}}


# What a path parameter can be, so that clients (and fuzzers) know. A value that is not one is answered
# like any name that matches nothing: 404.
_OBJECT_NAME = {"type": "string", "pattern": naming.NAME_RE.pattern, "maxLength": naming.NAME_MAX}
_DNS_NAME = {
    "type": "string",
    "pattern": r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$",
    "maxLength": DNS_NAME_MAX,
}
_RECORD_ID = {"type": "string", "pattern": "^[0-9]{1,18}$"}
_PATH_PARAMETERS: dict[str, tuple[dict[str, Any], str, str]] = {  # schema, description, example
    "env": (_OBJECT_NAME, "An environment's name.", "staging"),
    "name": (_OBJECT_NAME, "The object's name.", "web"),
    "id": (_RECORD_ID, "A record's id.", "1"),
}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    params = []
    for name in re.findall(r"{(\w+)}", path):
        schema, description, example = _PATH_PARAMETERS.get(name, ({"type": "string"}, name, name))
        if name == "name" and path.startswith("/v1/domains/"):
            schema, description, example = _DNS_NAME, "The domain's DNS name.", "example.com"
        params.append(
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": description,
                "schema": schema,
                "example": example,
            }
        )
    return params


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
