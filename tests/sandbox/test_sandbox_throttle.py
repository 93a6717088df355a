"""AWS's throttling emulated in the sandbox: the documented buckets, answered in each service's protocol
so botocore recognises the throttle; calls of services without documented buckets pass."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cloudfauj.sandbox import Sandbox
from cloudfauj.sandbox.throttle import Throttler


@pytest.fixture(scope="module")
def throttled() -> Iterator[Sandbox]:
    sandbox = Sandbox(port=0, rollout_seconds=0.1, throttle=True)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def client(sandbox: Sandbox, service: str) -> object:
    return boto3.client(
        service,
        endpoint_url=sandbox.endpoint,
        region_name="us-east-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def test_a_bucket_passes_its_burst_then_throttles_like_aws(throttled: Sandbox) -> None:
    ecs = client(throttled, "ecs")
    ecs.create_cluster(clusterName="t")  # type: ignore[attr-defined]
    family = {"family": "f", "containerDefinitions": [{"name": "c", "image": "nginx", "memory": 64}]}
    codes = []
    for _ in range(25):  # RegisterTaskDefinition: 20 burst, 1 per second
        try:
            ecs.register_task_definition(**family)  # type: ignore[attr-defined]
            codes.append("ok")
        except ClientError as e:
            codes.append(e.response["Error"]["Code"])
    assert codes[:20] == ["ok"] * 20 and set(codes[20:]) == {"ThrottlingException"}, codes
    assert throttled.throttler is not None and throttled.throttler.counts["throttled"] >= 4

    ec2 = client(throttled, "ec2")
    assert ec2.describe_vpcs()["Vpcs"] is not None  # type: ignore[attr-defined]
    elbv2 = client(throttled, "elbv2")  # no documented bucket: never throttled here
    for _ in range(60):
        elbv2.describe_load_balancers()  # type: ignore[attr-defined]


def test_latency_is_added_to_each_aws_call_only() -> None:
    slept: list[float] = []
    app = Throttler(lambda environ, start: [b""], throttle=False, latency=0.05, sleep=slept.append)
    signed = {
        "PATH_INFO": "/",
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/ecs/aws4_request, ...",
    }
    app(dict(signed), lambda *a: None)
    app({"PATH_INFO": "/moto-api/reset"}, lambda *a: None)
    assert slept == [0.05]
