"""ECS rollouts in the sandbox progress like ECS's: deployments, tasks, counts, events and waiters.

These are the behaviours the application controller and `aws ecs wait services-stable` rely on
(ARCHITECTURE §5 and §8); everything is observed through boto3 only.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

from cloudfauj.sandbox import push_image

DEPLOYMENT_ID = re.compile(r"^ecs-svc/\d{19}$")


@pytest.fixture(scope="module")
def image(fargate: Any) -> str:
    return push_image(fargate.endpoint, "rollouts/web", "v1")


def _stable_now(fargate: Any, name: str) -> None:
    waiter = fargate.ecs.get_waiter("services_stable")
    waiter.wait(cluster=fargate.cluster, services=[name], WaiterConfig={"Delay": 0.05, "MaxAttempts": 1})


def test_a_new_service_starts_in_progress_and_completes_after_the_rollout_time(
    fargate: Any, image: str
) -> None:
    td = fargate.task_definition(image)
    created = fargate.create_service("first", td, desired=2)

    assert fargate.summary(created) == [("PRIMARY", "IN_PROGRESS", fargate.revision(td), 0, 2)]
    primary = created["deployments"][0]
    assert DEPLOYMENT_ID.match(primary["id"])
    assert primary["rolloutStateReason"] == f"ECS deployment {primary['id']} in progress."
    assert primary["createdAt"] and primary["updatedAt"]
    assert (created["runningCount"], created["pendingCount"], created["desiredCount"]) == (0, 2, 2)

    done = fargate.wait_completed("first", td)
    primary = done["deployments"][0]
    assert (primary["runningCount"], primary["pendingCount"], primary["desiredCount"]) == (2, 0, 2)
    assert primary["rolloutStateReason"] == f"ECS deployment {primary['id']} completed."
    assert (done["runningCount"], done["pendingCount"]) == (2, 0)
    messages = [e["message"] for e in done["events"]]
    assert messages[0] == "(service first) has reached a steady state."
    assert messages[1] == f"(service first) (deployment {primary['id']}) deployment completed."
    assert re.fullmatch(
        r"\(service first\) has started 2 tasks: \(task [0-9a-f-]+\) \(task [0-9a-f-]+\)\.", messages[2]
    )


def test_a_read_after_the_rollout_time_sees_it_completed_without_waiting_for_the_ticker(
    fargate: Any, image: str, emulator: Any
) -> None:
    td = fargate.task_definition(image)
    emulator._ticker.stop()  # only requests move the simulation on now
    try:
        fargate.create_service("prompt", td, desired=1)
        time.sleep(fargate.rollout_seconds)
        primary = fargate.describe("prompt")["deployments"][0]
    finally:
        emulator._ticker.start()
    assert (primary["rolloutState"], primary["runningCount"]) == ("COMPLETED", 1)


def test_create_service_keeps_what_it_was_given(fargate: Any, image: str) -> None:
    td = fargate.task_definition(image)
    fargate.ecs.create_service(
        cluster=fargate.cluster,
        serviceName="kept",
        taskDefinition=td,
        desiredCount=1,
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": fargate.subnets, "securityGroups": [fargate.security_group]}
        },
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        healthCheckGracePeriodSeconds=30,
        enableExecuteCommand=True,
    )

    service = fargate.describe("kept")
    assert service["deploymentConfiguration"]["deploymentCircuitBreaker"] == {
        "enable": True,
        "rollback": True,
    }
    assert service["healthCheckGracePeriodSeconds"] == 30
    assert service["enableExecuteCommand"] is True
    assert service["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1}]
    assert service.get("launchType") != "EC2"
    assert service["taskDefinition"] == td


def test_create_and_update_refuse_what_ecs_refuses(fargate: Any, image: str) -> None:
    td = fargate.task_definition(image)
    fargate.create_service("refusing", td)
    with pytest.raises(ClientError, match="not idempotent"):
        fargate.create_service("refusing", td)
    with pytest.raises(ClientError, match="launch type and capacity provider strategy"):
        fargate.create_service(
            "both", td, capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}]
        )
    with pytest.raises(ClientError, match="Network Configuration must be provided"):
        fargate.ecs.create_service(cluster=fargate.cluster, serviceName="no-network", taskDefinition=td)
    fargate.ecs.delete_service(cluster=fargate.cluster, service="refusing", force=True)
    with pytest.raises(ClientError) as error:
        fargate.ecs.update_service(cluster=fargate.cluster, service="refusing", desiredCount=2)
    assert error.value.response["Error"]["Code"] == "ServiceNotActiveException"


def test_a_new_revision_runs_beside_the_old_one_until_its_rollout_completes(fargate: Any, image: str) -> None:
    v1, v2 = fargate.task_definition(image), fargate.task_definition(image)
    fargate.create_service("update", v1, desired=2)
    before = fargate.wait_completed("update", v1)
    old_tasks = {t["taskArn"] for t in fargate.tasks("update")}

    updated = fargate.ecs.update_service(cluster=fargate.cluster, service="update", taskDefinition=v2)[
        "service"
    ]

    r1, r2 = fargate.revision(v1), fargate.revision(v2)
    assert fargate.summary(updated) == [
        ("PRIMARY", "IN_PROGRESS", r2, 0, 2),
        ("ACTIVE", "COMPLETED", r1, 2, 0),
    ]
    assert updated["taskDefinition"] == v2
    assert updated["deployments"][1]["id"] == before["deployments"][0]["id"]
    assert DEPLOYMENT_ID.match(updated["deployments"][0]["id"])
    assert updated["deployments"][0]["id"] != updated["deployments"][1]["id"]

    done = fargate.wait_completed("update", v2)
    assert fargate.summary(done) == [("PRIMARY", "COMPLETED", r2, 2, 0)]
    stopped = {t["taskArn"]: t for t in fargate.tasks("update", status="STOPPED")}
    assert old_tasks <= set(stopped)
    assert all(stopped[arn]["lastStatus"] == "STOPPED" for arn in old_tasks)
    assert "(service update) has stopped 2 running tasks" in " ".join(e["message"] for e in done["events"])


def test_force_new_deployment_rolls_out_the_same_revision_again(fargate: Any, image: str) -> None:
    td = fargate.task_definition(image)
    fargate.create_service("force", td)
    first = fargate.wait_completed("force", td)["deployments"][0]["id"]

    updated = fargate.ecs.update_service(cluster=fargate.cluster, service="force", forceNewDeployment=True)[
        "service"
    ]

    assert [d["status"] for d in updated["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert updated["deployments"][0]["id"] != first
    assert fargate.wait_completed("force", td)["deployments"][0]["id"] == updated["deployments"][0]["id"]


def test_the_services_stable_waiter_fails_during_a_rollout_and_passes_after_it(
    fargate: Any, image: str
) -> None:
    v1, v2 = fargate.task_definition(image), fargate.task_definition(image)
    fargate.create_service("stable", v1)
    with pytest.raises(WaiterError):
        _stable_now(fargate, "stable")
    fargate.wait_completed("stable", v1)
    _stable_now(fargate, "stable")

    fargate.ecs.update_service(cluster=fargate.cluster, service="stable", taskDefinition=v2)
    with pytest.raises(WaiterError):
        _stable_now(fargate, "stable")
    fargate.ecs.get_waiter("services_stable").wait(
        cluster=fargate.cluster, services=["stable"], WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    assert fargate.describe("stable")["deployments"][0]["taskDefinition"] == v2


def test_list_tasks_returns_the_running_tasks_of_that_service_in_exactly_that_cluster(
    fargate: Any, image: str, clients: Any
) -> None:
    other = f"{fargate.cluster}-staging"  # moto matched clusters by substring
    clients("ecs").create_cluster(clusterName=other, capacityProviders=["FARGATE"])
    td = fargate.task_definition(image)
    fargate.create_service("listed", td, desired=2)
    fargate.create_service("neighbour", td)
    fargate.create_service("listed", td, cluster=other)
    done = fargate.wait_completed("listed", td)
    fargate.wait_completed("neighbour", td)

    tasks = fargate.tasks("listed")

    assert len(tasks) == 2
    assert {t["clusterArn"] for t in tasks} == {done["clusterArn"]}
    assert {t["group"] for t in tasks} == {"service:listed"}
    assert {t["startedBy"] for t in tasks} == {done["deployments"][0]["id"]}
    assert {t["taskDefinitionArn"] for t in tasks} == {td}
    assert {(t["lastStatus"], t["desiredStatus"]) for t in tasks} == {("RUNNING", "RUNNING")}
    assert len(fargate.tasks("listed", cluster=other)) == 1


def test_describing_tasks_again_and_again_does_not_change_them(fargate: Any, image: str) -> None:
    td = fargate.task_definition(image)
    fargate.create_service("described", td)
    fargate.wait_completed("described", td)
    arns = [t["taskArn"] for t in fargate.tasks("described")]

    for _ in range(6):
        tasks = fargate.ecs.describe_tasks(cluster=fargate.cluster, tasks=arns)["tasks"]
        assert [t["lastStatus"] for t in tasks] == ["RUNNING"]
    fargate.ecs.get_waiter("tasks_running").wait(
        cluster=fargate.cluster, tasks=arns, WaiterConfig={"Delay": 0.05, "MaxAttempts": 1}
    )


def test_changing_the_desired_count_scales_the_tasks(fargate: Any, image: str) -> None:
    td = fargate.task_definition(image)
    fargate.create_service("scaled", td)
    fargate.wait_completed("scaled", td)

    up = fargate.ecs.update_service(cluster=fargate.cluster, service="scaled", desiredCount=3)["service"]
    assert (up["runningCount"], up["pendingCount"], up["desiredCount"]) == (1, 2, 3)
    assert len(up["deployments"]) == 1
    fargate.wait_until("scaled", lambda s: s["runningCount"] == 3)
    assert len(fargate.tasks("scaled")) == 3

    down = fargate.ecs.update_service(cluster=fargate.cluster, service="scaled", desiredCount=1)["service"]
    assert (down["runningCount"], down["pendingCount"], down["desiredCount"]) == (1, 0, 1)
    assert len(fargate.tasks("scaled")) == 1
    assert len(fargate.tasks("scaled", status="STOPPED")) == 2


def test_deleting_a_service_stops_its_tasks(fargate: Any, image: str) -> None:
    td = fargate.task_definition(image)
    fargate.create_service("deleted", td, desired=2)
    fargate.wait_completed("deleted", td)

    fargate.ecs.delete_service(cluster=fargate.cluster, service="deleted", force=True)

    assert fargate.tasks("deleted") == []
    assert {t["lastStatus"] for t in fargate.tasks("deleted", status="STOPPED")} == {"STOPPED"}
    assert fargate.describe("deleted")["status"] == "INACTIVE"


def test_running_tasks_are_the_targets_of_the_services_target_group(
    fargate: Any, image: str, clients: Any
) -> None:
    group = clients("elbv2").create_target_group(
        Name=f"{fargate.cluster}-web", Protocol="HTTP", Port=80, VpcId=fargate.vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    balanced = [{"targetGroupArn": group, "containerName": "app", "containerPort": 80}]
    v1, v2 = fargate.task_definition(image), fargate.task_definition(image)

    def targets() -> set[str]:
        health = clients("elbv2").describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        return {t["Target"]["Id"] for t in health if t["TargetHealth"]["State"] == "healthy"}

    def ips() -> set[str]:
        details = [d for t in fargate.tasks("balanced") for a in t["attachments"] for d in a["details"]]
        return {d["value"] for d in details if d["name"] == "privateIPv4Address"}

    fargate.create_service("balanced", v1, desired=2, loadBalancers=balanced)
    assert targets() == set()
    fargate.wait_completed("balanced", v1)
    first = ips()
    assert len(first) == 2 and targets() == first

    fargate.ecs.update_service(cluster=fargate.cluster, service="balanced", taskDefinition=v2)
    fargate.wait_completed("balanced", v2)
    assert targets() == ips() and not first & targets()


def test_ten_services_updated_from_several_threads_all_complete(fargate: Any, image: str) -> None:
    v1, v2 = fargate.task_definition(image, family="many"), fargate.task_definition(image, family="many")
    names = [f"many-{i}" for i in range(10)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(lambda n: fargate.create_service(n, v1), names))
        for name in names:
            fargate.wait_completed(name, v1)
        results = list(
            pool.map(
                lambda n: fargate.ecs.update_service(cluster=fargate.cluster, service=n, taskDefinition=v2)[
                    "service"
                ],
                names,
            )
        )

    assert all(r["deployments"][0]["taskDefinition"] == v2 for r in results)
    done = [fargate.wait_completed(name, v2) for name in names]
    ids = [s["deployments"][0]["id"] for s in done]
    assert len(set(ids)) == 10
    assert all(s["runningCount"] == 1 for s in done)


def test_one_service_driven_by_several_clients_at_once_ends_on_one_completed_revision(
    fargate: Any, image: str
) -> None:
    """As replicas of a server may, during a handover: separate clients (connections) update and
    describe one service at the same moment; the simulation keeps one PRIMARY, and every rollout ends."""
    import boto3
    from botocore.config import Config

    revisions = [fargate.task_definition(image, family="handover") for _ in range(4)]
    fargate.create_service("handover", revisions[0], desired=2)
    fargate.wait_completed("handover", revisions[0])
    ecs = [
        boto3.session.Session(
            aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1"
        ).client(
            "ecs",
            endpoint_url=fargate.endpoint,
            config=Config(retries={"mode": "standard", "max_attempts": 2}),
        )
        for _ in revisions
    ]

    def drive(i: int) -> None:
        ecs[i].update_service(cluster=fargate.cluster, service="handover", taskDefinition=revisions[i])
        for _ in range(5):
            service = ecs[i].describe_services(cluster=fargate.cluster, services=["handover"])["services"][0]
            assert [d["status"] for d in service["deployments"]].count("PRIMARY") == 1

    with ThreadPoolExecutor(max_workers=len(revisions)) as pool:
        list(pool.map(drive, range(1, len(revisions))))
    primary = fargate.describe("handover")["deployments"][0]["taskDefinition"]
    assert primary in revisions[1:]
    done = fargate.wait_completed("handover", primary)
    running = fargate.tasks("handover")
    assert done["runningCount"] == 2 and {t["taskDefinitionArn"] for t in running} == {primary}
    assert len(running) == 2
