"""AWS's throttling, emulated: the documented token buckets enforced inside the sandbox, plus latency.

    cloudfauj server --sandbox --sandbox-throttle [--sandbox-latency-ms 50]
    cloudfauj sandbox serve --throttle [--latency-ms 50]

`Throttler` is a WSGI middleware in front of moto (like the fault injector): each AWS call takes a token
from its category's bucket (`cloudfauj.aws.budget.LIMITS`: ECS, EC2 and Route 53's documented burst and
refill) and is answered with the service's throttling error, in its protocol, when the bucket is empty —
as AWS does. Calls of services without documented buckets pass. `latency` delays every AWS call, so
wall-time figures include the network. The server's client budget refills a little under these rates,
so the controllers are never throttled by it. Exempt: `/moto-api/`, `/_sandbox/…`, and requests with the
`x-cloudfauj-no-faults` header (test checks).
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

from cloudfauj.aws.budget import LIMITS, Bucket, Limit, category_of
from cloudfauj.sandbox.faults import (
    _REASONS,
    _THROTTLE,
    NO_FAULTS_HEADER,
    _discard_body,
    _protocol,
    error_response,
    service_of,
)

__all__ = ["THROTTLE_PATH", "Throttler", "operation_of"]

THROTTLE_PATH = "/_sandbox/throttle"
StartResponse = Callable[..., Any]


def operation_of(environ: dict[str, Any], service: str) -> str:
    """The API operation of a request: the JSON target, the query protocol's Action, or (Route 53's REST
    API) CreateHostedZone for a POST to the zone collection. Leaves the body readable."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return target.rsplit(".", 1)[-1]
    path = str(environ.get("PATH_INFO", ""))
    if "/operation/" in path:  # rpc-v2-cbor: /service/<Service>/operation/<Operation>
        return path.rsplit("/", 1)[-1]
    if service == "route53":
        method = environ.get("REQUEST_METHOD", "GET")
        return (
            "CreateHostedZone" if method == "POST" and path.rstrip("/").endswith("/hostedzone") else "Other"
        )
    length = environ.get("CONTENT_LENGTH") or ""
    body = environ["wsgi.input"].read(int(length)) if length.isdigit() and int(length) > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    query = parse_qs(body.decode("utf-8", "replace")) or parse_qs(environ.get("QUERY_STRING", ""))
    return str((query.get("Action") or ["Other"])[0])


class Throttler:
    """WSGI middleware: `app` behind AWS's buckets (when `throttle`) and a fixed latency per call."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        *,
        throttle: bool,
        latency: float = 0.0,
        limits: dict[str, Limit] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.app, self.throttle, self.latency, self._sleep = app, throttle, latency, sleep
        self._buckets = {name: Bucket(limit) for name, limit in (limits or LIMITS).items()}
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    @property
    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def _admit(self, service: str, operation: str) -> bool:
        names = {category_of(service, operation), "route53:account" if service == "route53" else None}
        buckets = [self._buckets[n] for n in sorted(n for n in names if n) if n in self._buckets]
        with self._lock:
            self._counts["calls"] += 1
            if all(b.try_take() for b in buckets):
                return True
            self._counts["throttled"] += 1
            self._counts[f"{service}:{operation}:throttled"] += 1
            return False

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == THROTTLE_PATH:
            return self._stats(start_response)
        exempt = (
            path.startswith(("/moto-api", "/_sandbox"))
            or f"HTTP_{NO_FAULTS_HEADER.upper().replace('-', '_')}" in environ
        )
        service = None if exempt else service_of(environ)
        if service is None:
            return self.app(environ, start_response)
        if self.latency:
            self._sleep(self.latency)
        if not self.throttle or self._admit(service, operation_of(environ, service)):
            return self.app(environ, start_response)
        _discard_body(environ)
        protocol = _protocol(environ, service)
        code, status, message = _THROTTLE[protocol]
        body, headers = error_response(protocol, code, message)
        start_response(_REASONS[status], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _stats(self, start_response: StartResponse) -> Iterator[bytes]:
        body = json.dumps(
            {"throttle": self.throttle, "latency": self.latency, "counts": self.counts}
        ).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        yield body
