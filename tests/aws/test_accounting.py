"""Every AWS call attempt is counted by service, operation and outcome, and tallied for the record
whose attempt made it."""

from __future__ import annotations

import pytest

from cloudfauj.aws import AwsError, Gateway
from cloudfauj.aws.accounting import REGISTRY, attributed, outcome_of


def calls(operation: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "cloudfauj_aws_calls_total", {"service": "ec2", "operation": operation, "outcome": outcome}
    )
    return value or 0.0


def test_attempts_are_counted_by_outcome_and_tallied_for_the_current_record(sandbox: str) -> None:
    aws = Gateway(region="us-east-1", endpoint_url=sandbox, installation_id="t", credentials=("a", "b"))
    ok, missing = calls("DescribeVpcs", "ok"), calls("DescribeVpcs", "InvalidVpcID.NotFound")
    with attributed() as tally:
        aws.call("ec2", "describe_vpcs")
        with pytest.raises(AwsError):
            aws.call("ec2", "describe_vpcs", VpcIds=["vpc-00000000000000000"])
    aws.call("ec2", "describe_vpcs")  # outside: counted, not tallied
    assert calls("DescribeVpcs", "ok") == ok + 2
    assert calls("DescribeVpcs", "InvalidVpcID.NotFound") == missing + 1
    assert tally == {"ec2:DescribeVpcs": 2}


def test_throttling_codes_of_every_service_are_one_outcome() -> None:
    for code in ("Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"):
        assert outcome_of((None, {"Error": {"Code": code}}), None) == "throttled"
    assert outcome_of((None, {}), None) == "ok"
    assert outcome_of(None, ConnectionError("reset")) == "ConnectionError"
