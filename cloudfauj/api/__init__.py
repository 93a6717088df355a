"""The HTTP API: a Starlette app whose thin endpoints call `cloudfauj.service.Service`.

app.py       create_app(): routes built from the operation list, one exception table
routes.py    the operation list (method, path, models, error statuses) and the endpoints
auth.py      every /v1 request's bearer token: 401 without a valid one, 403 for a role that may not
models.py    pydantic request/response bodies; the source of /openapi.json
parsing.py   size-limited JSON bodies and query strings into those models
stream.py    one record followed as server-sent events
openapi.py   the OpenAPI 3.1 document, generated from the operation list
errors.py    exception → status table and the `{"error": ...}` body
testing.py   an in-memory Service double for tests of the API and its clients
"""

from __future__ import annotations

from cloudfauj.api.app import create_app

__all__ = ["create_app"]
