"""Every operation of the real app fuzzed from its own `/openapi.json` (schemathesis, in-process over ASGI).

The app is `create_app` over a real `Service` and a real SQLite store in a temporary directory, without AWS
and without a planner (`aws=None, plan=None`), so `diff` and app logs answer their documented 503. The store
holds a few objects whose names are the document's examples (`staging`, `web`, `example.com`, record `1`),
so the examples phase reaches stored objects and records, not only 404s. No reactor runs: a record is
ended as soon as its key is queued, so that an event stream of it ends too.

Checked for each generated request, valid and invalid alike: no 5xx other than a documented 503 that says
`unavailable` (never 500), every status documented for the operation, bodies and headers as documented,
and the documented content type. Bounded and reproducible: at most 25 examples per operation, a fixed
seed, derandomized, no example database; under a minute on two cores.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi import checks as openapi_checks

from cloudfauj.manifests import Source
from tests.api.real import RealApp

SEED = 20240611
MAX_EXAMPLES = 25
CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
]
CONFIG = {
    "seed": SEED,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    # 503 is this server's designed answer for what it was started without (AWS, a planner); the test
    # checks that it says so, and `status_code_conformance` that the operation documents it.
    "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}},
}
SEEDED = (
    ("example.com.yml", "name: example.com\ndns_service: aws_route53\ncert_authority: aws_acm\n"),
    ("staging.yml", "name: staging\nnetwork: aws\norchestrator: aws_ecs_fargate\n"),
    ("web-env.yml", "name: web\nnetwork: aws\norchestrator: aws_ecs_fargate\n"),
    (
        "web.yml",
        "apiVersion: cloudfauj.dev/v1\nkind: Application\nmetadata: {name: web, env: staging}\n"
        "spec: {image: 'repo/web:v1', resources: {cpu: 256, memory: 512, network: {bind_port: 80}}}\n",
    ),
)


def _seeded(data_dir: Path) -> RealApp:
    real = RealApp(data_dir)
    for name, text in SEEDED:
        real.service.apply(
            [Source(name, text)],
            env=None,
            image=None,
            deadline_seconds=None,
            source="fuzz",
            force=False,
            initiator=None,
        )
    return real


def _answering_500s(app: Any) -> Any:
    """Starlette answers an unexpected error with its 500, then re-raises it to the server; here the 500
    is what the checks should see (with the case that caused it), so it is not raised again."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        started = False

        async def watch(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await app(scope, receive, watch)
        except Exception:
            if not started:
                raise

    return wrapped


# Built at import: schemathesis generates one test per operation of the document the app serves, so the
# app must exist when tests are collected (its lazy `from_fixture` loader does not work with pytest 9).
_DATA = tempfile.TemporaryDirectory(prefix="cloudfauj-fuzz-")
REAL = _seeded(Path(_DATA.name))
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", REAL.app, config=SchemathesisConfig.from_dict(CONFIG)
)
schema.app = _answering_500s(REAL.app)


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    REAL.store.close()
    _DATA.cleanup()


@pytest.fixture(autouse=True)
def _quiet_api_log(caplog: pytest.LogCaptureFixture) -> None:
    # A 500 is logged with its traceback; the failing check already shows the case that caused it.
    caplog.set_level(logging.CRITICAL, logger="cloudfauj.api")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_every_operation_answers_fuzzed_input_as_documented(case: Any) -> None:
    response = case.call_and_validate(headers=REAL.headers, checks=CHECKS)
    if response.status_code == 503 and case.path != "/readyz":
        assert response.json()["error"]["code"] == "unavailable", response.text
