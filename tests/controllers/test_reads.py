"""Batched observation: a resync of N applications asks DescribeServices ⌈N/10⌉ times (at most 10 names
a call), reads security groups once per VPC and each task definition revision once."""

from __future__ import annotations

from typing import Any

from cloudfauj.aws import Gateway
from cloudfauj.aws.accounting import attributed
from controllers.reads import Reads
from tests.conftest import REGION

APPS = [f"app{i:02d}" for i in range(25)]


def _services(aws: Any) -> tuple[str, str]:
    ecs = aws("ecs")
    cluster = ecs.create_cluster(clusterName="batch")["cluster"]["clusterArn"]
    td = ecs.register_task_definition(
        family="batch",
        networkMode="bridge",
        containerDefinitions=[{"name": "c", "image": "nginx:1.27", "memory": 128}],
    )["taskDefinition"]["taskDefinitionArn"]
    for name in APPS:
        ecs.create_service(
            cluster=cluster, serviceName=name, taskDefinition=td, desiredCount=0, launchType="EC2"
        )
    return cluster, td


def test_a_resync_of_n_services_costs_n_over_10_calls_of_at_most_10_names(sandbox: str, aws: Any) -> None:
    cluster, td = _services(aws)
    gateway = Gateway(region=REGION, endpoint_url=sandbox, installation_id="t", credentials=("a", "b"))
    asked: list[int] = []
    gateway.client("ecs").meta.events.register(
        "provide-client-params.ecs.DescribeServices",
        lambda params, **_: asked.append(len(params["services"])),
    )
    reads = Reads(lambda env: APPS)
    with attributed() as calls:
        found = [reads.service(gateway, cluster, "env", name, fresh=False) for name in APPS]
    assert [s["serviceName"] for s in found if s] == APPS
    assert calls["ecs:DescribeServices"] == 3 and max(asked) <= 10, asked

    with attributed() as calls:  # within the TTL: no call at all; a record's read goes to AWS
        assert reads.service(gateway, cluster, "env", "app07", fresh=False) is not None
        assert reads.service(gateway, cluster, "env", "app07", fresh=True) is not None
        assert reads.service(gateway, cluster, "env", "missing", fresh=False) is None
    assert calls["ecs:DescribeServices"] == 2

    with attributed() as calls:
        for _ in range(3):
            assert reads.task_definition(gateway, td) is not None
    assert calls["ecs:DescribeTaskDefinition"] == 1


def test_entries_expire_after_the_ttl(sandbox: str, aws: Any) -> None:
    cluster, _ = _services(aws)
    gateway = Gateway(region=REGION, endpoint_url=sandbox, installation_id="t", credentials=("a", "b"))
    now = [0.0]
    reads = Reads(lambda env: APPS[:3], ttl=30, clock=lambda: now[0])
    with attributed() as calls:
        reads.service(gateway, cluster, "env", "app00", fresh=False)
        reads.service(gateway, cluster, "env", "app01", fresh=False)
        now[0] = 31
        reads.service(gateway, cluster, "env", "app01", fresh=False)
    assert calls["ecs:DescribeServices"] == 2
