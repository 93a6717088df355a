"""Fault injection inside the emulator: a share of AWS calls answered with throttling or an HTTP 500.

    cloudfauj server --sandbox --sandbox-faults throttle=0.3,error=0.05
    cloudfauj sandbox serve --faults throttle=0.3,error=0.05,after=0.5,seed=7

`FaultInjector` is a WSGI middleware in front of moto's app (`emulator.py` installs it), so every client
meets the faults — the server in another process too, where botocore event hooks cannot reach
(ARCHITECTURE §8). For each AWS call it draws from a seeded generator:

- `throttle`: the share answered at once with the service's throttling error, in its own protocol, so
  botocore's retry handler recognises it: EC2 `RequestLimitExceeded` (HTTP 503, as EC2 answers),
  query and rest-xml services (ELBv2, IAM, STS, Route53) `Throttling`, JSON and CBOR services (ECS,
  Logs, ECR, ACM, tagging) `ThrottlingException` (HTTP 400). Nothing happened in AWS.
- `error`: the share answered with an HTTP 500 (`InternalError` for EC2, `InternalFailure` elsewhere).
  `after` of those (default a half) are answered only *after* moto ran the call — it took effect and the
  answer was lost, the case that tests idempotency; the others never reach moto.

Never faulted: moto's own `/moto-api/`, this module's `/_sandbox/faults` (GET: the plan and the
counts), requests whose service cannot be told (not signed, not an AWS host), and requests carrying
the header `x-cloudfauj-no-faults` (`exempt(client)` adds it to a boto3 client: what tests use to check
AWS without being faulted themselves, and what `sandbox push` uses to seed the emulator).
"""

from __future__ import annotations

import json
import random
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = ["NO_FAULTS_HEADER", "STATS_PATH", "FaultInjector", "FaultPlan", "exempt", "service_of"]

NO_FAULTS_HEADER = "x-cloudfauj-no-faults"
STATS_PATH = "/_sandbox/faults"

_RATES = ("throttle", "error", "after")
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_QUERY_SCOPE = re.compile(r"X-Amz-Credential=[^&%]+(?:/|%2F)\d{8}(?:/|%2F)[^/&%]+(?:/|%2F)([^/&%]+)")
# Signing names of the services whose errors are XML (<ErrorResponse><Error>…); EC2 has its own shape.
_XML_SERVICES = frozenset(
    {"elasticloadbalancing", "iam", "sts", "route53", "s3", "cloudfront", "sqs", "sns", "autoscaling",
     "cloudformation", "rds", "monitoring", "email"}
)  # fmt: skip

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class FaultPlan:
    """Which share of AWS calls to fault. `after` is the share of the 500s sent after the call ran."""

    throttle: float = 0.0
    error: float = 0.0
    after: float = 0.5
    seed: int | None = None

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """`throttle=0.3,error=0.05[,after=0.5][,seed=7]`; ValueError with one sentence otherwise."""
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in (*_RATES, "seed"):
                raise ValueError(
                    f"'{part}' is not one of throttle=SHARE, error=SHARE, after=SHARE, seed=N "
                    "(e.g. throttle=0.3,error=0.05)."
                )
            try:
                values[key] = int(value) if key == "seed" else float(value)
            except ValueError:
                kind = "an integer" if key == "seed" else "a number between 0 and 1"
                raise ValueError(f"'{key}' must be {kind}, not '{value.strip()}'.") from None
        plan = cls(**values)
        for key in _RATES:
            if not 0.0 <= getattr(plan, key) <= 1.0:
                raise ValueError(f"'{key}' must be a share between 0 and 1, not {getattr(plan, key):g}.")
        if plan.throttle + plan.error > 1.0:
            raise ValueError("throttle and error together cannot exceed 1 (every call).")
        return plan

    def seeded(self) -> FaultPlan:
        """This plan with a seed: the given one, or a fresh one to print, so the run can be repeated."""
        return self if self.seed is not None else replace(self, seed=random.SystemRandom().randrange(1 << 31))

    def describe(self) -> str:
        return f"throttle={self.throttle:g},error={self.error:g},after={self.after:g}" + (
            f",seed={self.seed}" if self.seed is not None else ""
        )


def service_of(environ: dict[str, Any]) -> str | None:
    """The signing name of the AWS service a request is for (`ec2`, `ecs`, `elasticloadbalancing`, …):
    from the SigV4 credential scope, else from an AWS host name; None when it is not an AWS call."""
    found = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", "")) or _QUERY_SCOPE.search(
        environ.get("QUERY_STRING", "")
    )
    if found:
        return found.group(1).lower()
    host = environ.get("HTTP_HOST", "").rsplit(":", 1)[0].lower()
    return host.split(".", 1)[0] if host.endswith(".amazonaws.com") else None


def _protocol(environ: dict[str, Any], service: str) -> str:
    content_type = environ.get("CONTENT_TYPE", "").lower()
    if service == "ec2":
        return "ec2"
    if "cbor" in content_type:
        return "cbor"
    if "json" in content_type or environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    return "xml" if service in _XML_SERVICES or "x-www-form-urlencoded" in content_type else "json"


# (code, HTTP status, message) per fault and protocol
_THROTTLE = {
    "ec2": ("RequestLimitExceeded", 503, "Request limit exceeded."),
    "xml": ("Throttling", 400, "Rate exceeded"),
    "json": ("ThrottlingException", 400, "Rate exceeded"),
    "cbor": ("ThrottlingException", 400, "Rate exceeded"),
}
_SERVER_ERROR = {
    "ec2": ("InternalError", 500, "An internal error has occurred."),
    "xml": ("InternalFailure", 500, "The request processing has failed because of an unknown error."),
    "json": ("InternalFailure", 500, "The request processing has failed because of an unknown error."),
    "cbor": ("InternalFailure", 500, "The request processing has failed because of an unknown error."),
}
_REASONS = {400: "400 Bad Request", 500: "500 Internal Server Error", 503: "503 Service Unavailable"}


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    size = len(data)
    if size < 24:
        return bytes([0x60 + size]) + data
    if size < 256:
        return bytes([0x78, size]) + data
    return bytes([0x79]) + size.to_bytes(2, "big") + data


def error_response(protocol: str, code: str, message: str) -> tuple[bytes, list[tuple[str, str]]]:
    """The body and headers of an AWS error in `protocol`, as botocore's parser for it reads them."""
    request_id = str(uuid.uuid4())
    if protocol == "ec2":
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        return body, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    if protocol == "xml":
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        return body, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    headers = [("x-amzn-ErrorType", code), ("x-amzn-RequestId", request_id)]
    if protocol == "cbor":
        body = b"\xa2" + _cbor_text("__type") + _cbor_text(code) + _cbor_text("message") + _cbor_text(message)
        return body, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"), *headers]
    body = json.dumps({"__type": code, "message": message}).encode()
    return body, [("Content-Type", "application/x-amz-json-1.1"), *headers]


def _discard_body(environ: dict[str, Any]) -> None:
    """Read the request body we will not pass on, so the connection stays usable for the next request."""
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > 0:
        environ["wsgi.input"].read(int(length))


def _ignore_start(
    status: str, headers: list[tuple[str, str]], exc_info: Any = None
) -> Callable[[bytes], None]:
    return lambda data: None


def _run_to_completion(response: Iterable[bytes]) -> None:
    try:
        for _ in response:
            pass
    finally:
        close = getattr(response, "close", None)
        if close is not None:
            close()


class FaultInjector:
    """WSGI middleware: `app` (moto) behind a seeded share of throttles and 500s; counts what it did."""

    def __init__(self, app: Callable[..., Iterable[bytes]], plan: FaultPlan) -> None:
        self.app, self.plan = app, plan.seeded()
        self._random = random.Random(self.plan.seed)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    @property
    def counts(self) -> dict[str, int]:
        """`calls` (AWS calls seen), `throttled`, `errors`, `errors_after_effect`, and `<service>:<fault>`."""
        with self._lock:
            return dict(self._counts)

    def _draw(self, service: str) -> str | None:
        with self._lock:
            self._counts["calls"] += 1
            roll = self._random.random()
            if roll < self.plan.throttle:
                fault = "throttled"
            elif roll < self.plan.throttle + self.plan.error:
                fault = "errors_after_effect" if self._random.random() < self.plan.after else "errors"
            else:
                return None
            self._counts[fault] += 1
            self._counts[f"{service}:{fault}"] += 1
            return fault

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == STATS_PATH:
            return self._stats(start_response)
        exempt = (
            path.startswith("/moto-api") or f"HTTP_{NO_FAULTS_HEADER.upper().replace('-', '_')}" in environ
        )
        service = None if exempt else service_of(environ)
        fault = self._draw(service) if service else None
        if service is None or fault is None:
            return self.app(environ, start_response)
        if fault == "errors_after_effect":
            _run_to_completion(self.app(environ, _ignore_start))  # the call takes effect; the answer is lost
        else:
            _discard_body(environ)
        protocol = _protocol(environ, service)
        code, status, message = (_THROTTLE if fault == "throttled" else _SERVER_ERROR)[protocol]
        body, headers = error_response(protocol, code, message)
        start_response(_REASONS[status], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _stats(self, start_response: StartResponse) -> Iterator[bytes]:
        body = json.dumps({"plan": asdict(self.plan), "counts": self.counts}, sort_keys=True).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        yield body


def exempt(client: Any) -> Any:
    """Mark every request of boto3 `client` as one the sandbox never faults; returns the client."""

    def add_header(request: Any, **kwargs: Any) -> None:
        request.headers[NO_FAULTS_HEADER] = "1"

    client.meta.events.register("before-sign", add_header)
    return client
