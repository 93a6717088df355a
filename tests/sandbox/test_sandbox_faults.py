"""Fault injection in the emulator: throttling and HTTP 500s in each service's own protocol, as botocore
parses them; the 500 that comes after the call took effect; seeded, reproducible rates; and what is never
faulted (moto's API, exempt clients, requests that are not AWS calls).

Each test runs its own faulty sandbox on another port; moto's state is shared with the module's
emulator (moto's backends are process-global), so the tests tag what they create and reset nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff, ThrottledRetryableChecker

from cloudfauj.sandbox import FaultPlan, Sandbox, exempt
from cloudfauj.sandbox.faults import FaultInjector, service_of
from tests.sandbox.conftest import ROLLOUT_SECONDS

BOTOCORE_THROTTLING = set(ThrottledRetryableChecker._THROTTLED_ERROR_CODES)
Clients = Callable[..., Any]


@pytest.fixture(autouse=True)
def instant_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore retries at once: the tests count attempts, they need not wait for them."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture
def faulty(faulty_sandbox: Callable[..., Sandbox]) -> Callable[[str], Sandbox]:
    return lambda spec: faulty_sandbox(spec, ROLLOUT_SECONDS)


def clients_for(sandbox: Sandbox, attempts: int = 1) -> Clients:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    config = Config(retries={"mode": "standard", "total_max_attempts": attempts})
    return lambda service, **kw: session.client(service, endpoint_url=sandbox.endpoint, config=config, **kw)


def counts(sandbox: Sandbox) -> dict[str, int]:
    assert sandbox.faults is not None
    return sandbox.faults.counts


READS: dict[str, Callable[[Any], Any]] = {
    "ec2": lambda c: c.describe_vpcs(),  # ec2 protocol: <Response><Errors><Error>
    "ecs": lambda c: c.list_clusters(),  # json: {"__type": ...}
    "elbv2": lambda c: c.describe_load_balancers(),  # query: <ErrorResponse><Error>
    "route53": lambda c: c.list_hosted_zones(),  # rest-xml
    "iam": lambda c: c.list_roles(),
    "sts": lambda c: c.get_caller_identity(),
    "logs": lambda c: c.describe_log_groups(),
    "ecr": lambda c: c.describe_repositories(),
    "acm": lambda c: c.list_certificates(),
    "resourcegroupstaggingapi": lambda c: c.get_resources(),  # smithy-rpc-v2-cbor in this botocore
}


@pytest.mark.parametrize("service", sorted(READS))
def test_a_throttle_is_each_services_own_throttling_error_as_botocore_parses_it(
    faulty: Callable[[str], Sandbox], service: str
) -> None:
    sandbox = faulty("throttle=1.0")
    with pytest.raises(ClientError) as caught:
        READS[service](clients_for(sandbox)(service))
    error = caught.value.response["Error"]
    assert error["Code"] in BOTOCORE_THROTTLING, error
    expected = {"ec2": "RequestLimitExceeded"}.get(service)
    if expected:
        assert error["Code"] == expected
    assert counts(sandbox)["throttled"] == 1


def test_botocores_retry_handler_retries_an_injected_throttle_until_its_attempts_run_out(
    faulty: Callable[[str], Sandbox],
) -> None:
    sandbox = faulty("throttle=1.0")
    ecs, elbv2 = clients_for(sandbox, attempts=3)("ecs"), clients_for(sandbox, attempts=3)("elbv2")
    for call in (ecs.list_clusters, elbv2.describe_load_balancers):
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["ResponseMetadata"]["MaxAttemptsReached"] is True
        assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert counts(sandbox)["throttled"] == 6


def test_a_500_before_the_effect_leaves_aws_unchanged(
    faulty: Callable[[str], Sandbox], clients: Callable[[str], Any]
) -> None:
    sandbox = faulty("error=1.0,after=0")
    marker = uuid.uuid4().hex
    with pytest.raises(ClientError) as caught:
        clients_for(sandbox)("ec2").create_vpc(
            CidrBlock="10.31.0.0/16",
            TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "t", "Value": marker}]}],
        )
    assert caught.value.response["Error"]["Code"] == "InternalError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    found = clients("ec2").describe_vpcs(Filters=[{"Name": "tag:t", "Values": [marker]}])["Vpcs"]
    assert found == []
    assert counts(sandbox)["errors"] == 1


def test_a_500_after_the_effect_answers_an_error_for_a_call_that_happened(
    faulty: Callable[[str], Sandbox], clients: Callable[[str], Any]
) -> None:
    sandbox = faulty("error=1.0,after=1.0")
    marker = uuid.uuid4().hex
    with pytest.raises(ClientError) as caught:
        clients_for(sandbox)("ec2").create_vpc(
            CidrBlock="10.32.0.0/16",
            TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "t", "Value": marker}]}],
        )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    found = clients("ec2").describe_vpcs(Filters=[{"Name": "tag:t", "Values": [marker]}])["Vpcs"]
    assert len(found) == 1  # it happened, exactly once
    with pytest.raises(ClientError) as json_error:
        clients_for(sandbox)("ecs").list_clusters()
    assert json_error.value.response["Error"]["Code"] == "InternalFailure"
    assert counts(sandbox)["errors_after_effect"] == 2


def test_the_rates_hold_and_a_seed_repeats_the_same_faults(faulty: Callable[[str], Sandbox]) -> None:
    sandbox = faulty("throttle=0.3,error=0.1,after=0.5,seed=7")
    assert sandbox.faults is not None and sandbox.faults.plan.seed == 7
    ecs = clients_for(sandbox)("ecs")
    outcomes = []
    for _ in range(300):
        try:
            ecs.list_clusters()
            outcomes.append("ok")
        except ClientError as e:
            outcomes.append(e.response["Error"]["Code"])
    seen = counts(sandbox)
    assert seen["calls"] == 300
    assert 60 <= seen["throttled"] <= 120, seen  # 30 % of 300, give or take
    assert 15 <= seen["errors"] + seen["errors_after_effect"] <= 50, seen
    assert outcomes.count("ThrottlingException") == seen["throttled"]
    again = faulty("throttle=0.3,error=0.1,after=0.5,seed=7")
    ecs = clients_for(again)("ecs")
    replay = []
    for _ in range(300):
        try:
            ecs.list_clusters()
            replay.append("ok")
        except ClientError as e:
            replay.append(e.response["Error"]["Code"])
    assert replay == outcomes


def test_moto_api_exempt_clients_and_unsigned_requests_are_never_faulted(
    faulty: Callable[[str], Sandbox],
) -> None:
    sandbox = faulty("throttle=0.5,error=0.5")
    assert httpx.get(f"{sandbox.endpoint}/moto-api/data.json").status_code == 200
    assert httpx.get(sandbox.endpoint).status_code < 500
    ecs = exempt(clients_for(sandbox)("ecs"))
    for _ in range(20):
        ecs.list_clusters()
    assert counts(sandbox).get("calls", 0) == 0
    stats = httpx.get(f"{sandbox.endpoint}/_sandbox/faults").json()
    assert stats["plan"] == {"throttle": 0.5, "error": 0.5, "after": 0.5, "seed": sandbox.faults.plan.seed}
    assert stats["counts"] == {}


def test_the_service_is_told_by_the_credential_scope_or_the_host() -> None:
    auth = (
        "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/elasticloadbalancing/aws4_request, "
        "SignedHeaders=host, Signature=abc"
    )
    assert service_of({"HTTP_AUTHORIZATION": auth}) == "elasticloadbalancing"
    assert service_of({"HTTP_HOST": "ecs.us-east-1.amazonaws.com"}) == "ecs"
    assert service_of({"HTTP_HOST": "127.0.0.1:4566"}) is None


def test_a_fault_plan_is_parsed_and_bad_ones_say_what_is_wrong() -> None:
    assert FaultPlan.parse("throttle=0.3, error=0.05,seed=7") == FaultPlan(0.3, 0.05, 0.5, 7)
    assert FaultPlan.parse("").throttle == 0
    for spec, says in (
        ("throttle=2", "between 0 and 1"),
        ("throttle=0.7,error=0.5", "cannot exceed 1"),
        ("slow=0.1", "throttle=SHARE"),
        ("throttle", "throttle=SHARE"),
        ("seed=x", "integer"),
    ):
        with pytest.raises(ValueError, match=says):
            FaultPlan.parse(spec)


def test_the_injector_passes_every_call_through_when_nothing_is_drawn() -> None:
    calls: list[str] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"{}"]

    injector = FaultInjector(app, FaultPlan())
    environ = {"PATH_INFO": "/", "HTTP_HOST": "ecs.us-east-1.amazonaws.com"}
    assert injector(environ, lambda status, headers: None) == [b"{}"]
    assert calls == ["/"] and injector.counts == {"calls": 1}
    assert json.loads(b"".join(injector({"PATH_INFO": "/_sandbox/faults"}, lambda s, h: None)))
