"""Fixtures for the sandbox tests: one emulator per session, boto3 clients, and a small Fargate setup.

Everything goes over HTTP with boto3, as the controllers and third-party tools do. Each test module gets
its own VPC and cluster (unique names), so a test that resets moto only affects its own module. The
fixture names differ from tests/conftest.py's `sandbox`/`aws` on purpose: those reset moto before every
test, these keep one emulator and build state per module. Helpers are reached through `fargate`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import pytest
from botocore.config import Config

from cloudfauj.sandbox import Sandbox

ROLLOUT_SECONDS = 0.5
DEADLINE = 10.0  # generous: a rollout takes ROLLOUT_SECONDS plus at most a tick
T = TypeVar("T")


def poll(read: Callable[[], T], until: Callable[[T], bool], *, timeout: float = DEADLINE) -> T:
    """Read until the value satisfies `until`, with short sleeps; fails with the last value seen."""
    deadline = time.monotonic() + timeout
    value = read()
    while not until(value):
        if time.monotonic() > deadline:
            pytest.fail(f"condition not reached within {timeout} s; last value: {value!r}")
        time.sleep(0.05)
        value = read()
    return value


def revision(arn: str) -> str:
    return arn.split("/")[-1]


def summary(service: dict[str, Any]) -> list[tuple[str, str, str, int, int]]:
    """(status, rolloutState, family:revision, running, pending) per deployment, PRIMARY first."""
    return [
        (d["status"], d["rolloutState"], revision(d["taskDefinition"]), d["runningCount"], d["pendingCount"])
        for d in service["deployments"]
    ]


@pytest.fixture(scope="session")
def emulator() -> Iterator[Sandbox]:
    emulator = Sandbox(port=0, rollout_seconds=ROLLOUT_SECONDS)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def clients(emulator: Sandbox) -> Callable[[str], Any]:
    """boto3 clients for the sandbox, created once (clients are thread-safe, creating them is not)."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    config = Config(retries={"mode": "standard", "max_attempts": 2})
    clients = {
        name: session.client(name, endpoint_url=emulator.endpoint, config=config)
        for name in ("ec2", "ecs", "ecr", "elbv2", "iam")
    }
    return clients.__getitem__


@dataclass
class Fargate:
    """A VPC with two subnets, a security group and a FARGATE cluster, plus helpers to deploy on it."""

    ecs: Any
    endpoint: str
    cluster: str
    vpc: str
    subnets: list[str]
    security_group: str
    rollout_seconds = ROLLOUT_SECONDS
    poll = staticmethod(poll)
    summary = staticmethod(summary)
    revision = staticmethod(revision)

    def task_definition(self, image: str, family: str = "web") -> str:
        container = {
            "name": "app",
            "image": image,
            "essential": True,
            "portMappings": [{"containerPort": 80}],
        }
        td = self.ecs.register_task_definition(
            family=family,
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu="256",
            memory="512",
            containerDefinitions=[container],
        )
        return str(td["taskDefinition"]["taskDefinitionArn"])

    def create_service(
        self,
        name: str,
        td: str,
        *,
        desired: int = 1,
        rollback: bool = True,
        cluster: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        return dict(
            self.ecs.create_service(
                cluster=cluster or self.cluster,
                serviceName=name,
                taskDefinition=td,
                desiredCount=desired,
                launchType="FARGATE",
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": self.subnets,
                        "securityGroups": [self.security_group],
                        "assignPublicIp": "ENABLED",
                    }
                },
                deploymentConfiguration={
                    "maximumPercent": 200,
                    "minimumHealthyPercent": 100,
                    "deploymentCircuitBreaker": {"enable": True, "rollback": rollback},
                },
                **extra,
            )["service"]
        )

    def describe(self, name: str, cluster: str | None = None) -> dict[str, Any]:
        return dict(
            self.ecs.describe_services(cluster=cluster or self.cluster, services=[name])["services"][0]
        )

    def wait_until(self, name: str, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        return poll(lambda: self.describe(name), until)

    def wait_completed(self, name: str, td: str) -> dict[str, Any]:
        """Until the only deployment is a COMPLETED PRIMARY on `td`."""
        return self.wait_until(
            name,
            lambda s: (
                len(s["deployments"]) == 1
                and s["deployments"][0]["taskDefinition"] == td
                and s["deployments"][0]["rolloutState"] == "COMPLETED"
            ),
        )

    def tasks(self, name: str, status: str = "RUNNING", cluster: str | None = None) -> list[dict[str, Any]]:
        cluster = cluster or self.cluster
        arns = self.ecs.list_tasks(cluster=cluster, serviceName=name, desiredStatus=status)["taskArns"]
        return list(self.ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]) if arns else []


def build_fargate(clients: Callable[[str], Any], endpoint: str, cluster: str) -> Fargate:
    ec2 = clients("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"us-east-1{az}")[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    group = ec2.create_security_group(GroupName=f"{cluster}-app", Description="app", VpcId=vpc)["GroupId"]
    clients("ecs").create_cluster(
        clusterName=cluster,
        capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
    )
    return Fargate(clients("ecs"), endpoint, cluster, vpc, subnets, group)


@pytest.fixture(scope="module")
def fargate(clients: Callable[[str], Any], emulator: Sandbox) -> Fargate:
    return build_fargate(clients, emulator.endpoint, f"sbx-{uuid.uuid4().hex[:8]}")
