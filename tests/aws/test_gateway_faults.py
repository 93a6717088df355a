"""The gateway's retries against an emulator that injects faults: botocore resends reads (standard mode,
3 attempts); a mutation is resent only when throttled, never after a 5xx that may have taken effect;
what outlasts that is an `AwsTemporaryError` for the reactor, and what retrying cannot fix (access
denied, an invalid parameter) a `PermanentError` carrying AWS's message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff

from cloudfauj.aws import AwsError, AwsTemporaryError, Gateway
from cloudfauj.aws.errors import map_aws_errors
from cloudfauj.errors import PermanentError, TemporaryError
from cloudfauj.sandbox import Sandbox

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def instant_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


def gateway(sandbox: Sandbox, sleeps: list[float] | None = None) -> Gateway:
    return Gateway(
        region=REGION,
        endpoint_url=sandbox.endpoint,
        installation_id="faults",
        credentials=("testing", "testing"),
        sleep=(sleeps if sleeps is not None else []).append,
        jitter=lambda: 0.5,
    )


def calls(sandbox: Sandbox) -> int:
    assert sandbox.faults is not None
    return sandbox.faults.counts.get("calls", 0)


def test_retries_are_botocores_standard_mode_with_three_attempts_and_one_for_mutations(
    faulty_sandbox: Callable[[str], Sandbox],
) -> None:
    aws = gateway(faulty_sandbox(""))
    assert aws.client("ecs").meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert aws.client("ecs", mutations=True).meta.config.retries == {
        "mode": "standard",
        "total_max_attempts": 1,
    }


@pytest.mark.parametrize(
    ("spec", "code"), [("throttle=1.0", "ThrottlingException"), ("error=1.0", "InternalFailure")]
)
def test_a_read_is_retried_three_times_then_is_temporary(
    faulty_sandbox: Callable[[str], Sandbox], spec: str, code: str
) -> None:
    sandbox = faulty_sandbox(spec)
    with pytest.raises(AwsTemporaryError) as caught:
        gateway(sandbox).call("ecs", "list_clusters")
    assert caught.value.code == code and isinstance(caught.value, TemporaryError)
    assert "AWS ecs list_clusters failed" in caught.value.message
    assert calls(sandbox) == 3


def test_a_throttled_mutation_is_resent_with_backoff(faulty_sandbox: Callable[[str], Sandbox]) -> None:
    sandbox, sleeps = faulty_sandbox("throttle=1.0"), []
    with pytest.raises(AwsTemporaryError) as caught:
        gateway(sandbox, sleeps).call("ecs", "create_cluster", clusterName=f"t-{uuid.uuid4().hex[:8]}")
    assert caught.value.code == "ThrottlingException"
    assert calls(sandbox) == 3 and sleeps == [0.5, 1.0]  # jitter · 2^(attempt-1), as botocore


def test_a_mutation_that_failed_with_a_500_after_taking_effect_is_not_sent_again(
    faulty_sandbox: Callable[[str], Sandbox], aws: Callable[[str], Any]
) -> None:
    sandbox = faulty_sandbox("error=1.0,after=1.0")
    name = f"t-{uuid.uuid4().hex[:8]}"
    with pytest.raises(AwsTemporaryError) as caught:
        gateway(sandbox).call("ecs", "create_cluster", clusterName=name)
    assert caught.value.code == "InternalFailure"
    assert calls(sandbox) == 1
    clusters = aws("ecs").describe_clusters(clusters=[name])["clusters"]
    assert [c["status"] for c in clusters] == ["ACTIVE"]  # it happened, once: the reactor observes next


def test_an_invalid_parameter_is_permanent_with_awss_message(
    faulty_sandbox: Callable[[str], Sandbox],
) -> None:
    with pytest.raises(AwsError) as caught:
        gateway(faulty_sandbox("")).call("ec2", "create_vpc", CidrBlock="not-a-cidr")
    assert isinstance(caught.value, PermanentError)
    assert caught.value.code == "InvalidParameterValue"
    assert caught.value.message == (
        "AWS ec2 create_vpc failed: InvalidParameterValue: Value (not-a-cidr) for parameter cidrBlock is "
        "invalid. This is not a valid CIDR block."
    )


def test_access_denied_is_permanent_and_throttling_or_5xx_temporary() -> None:
    def mapped(code: str, status: int) -> Exception:
        error = ClientError(
            {"Error": {"Code": code, "Message": "User: arn:aws:iam::1:user/ci is not authorized"},
             "ResponseMetadata": {"HTTPStatusCode": status}},
            "CreateCluster",
        )  # fmt: skip
        with pytest.raises(Exception) as caught, map_aws_errors("ecs", "create_cluster"):
            raise error
        return caught.value

    denied = mapped("AccessDeniedException", 400)
    assert isinstance(denied, AwsError) and isinstance(denied, PermanentError)
    assert denied.message == (
        "AWS ecs create_cluster failed: AccessDeniedException: User: arn:aws:iam::1:user/ci is not authorized"
    )
    for code, status in (("ThrottlingException", 400), ("RequestLimitExceeded", 503), ("InternalError", 500)):
        assert isinstance(mapped(code, status), AwsTemporaryError)
