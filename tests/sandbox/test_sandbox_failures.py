"""Rollouts that cannot run fail like ECS's: stopped tasks with ECS's reasons, the circuit breaker, rollback.

ARCHITECTURE §5: a FAILED rollout, or a rollback to an older revision, is a failed deployment; the
controller reads why from the stopped tasks. Images are judged by the emulated ECR when a rollout starts.
"""

from __future__ import annotations

from typing import Any

import pytest

from cloudfauj.sandbox import push_image

BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."


@pytest.fixture(scope="module")
def good(fargate: Any) -> str:
    return push_image(fargate.endpoint, "failures/web", "v1")


def _deploy_then_update(fargate: Any, name: str, good_td: str, bad_td: str) -> dict[str, Any]:
    fargate.create_service(name, good_td)
    completed = fargate.wait_completed(name, good_td)
    fargate.ecs.update_service(cluster=fargate.cluster, service=name, taskDefinition=bad_td)
    return completed


def _when_failed(fargate: Any, name: str, bad_td: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(service, bad deployment) as first seen FAILED. The breaker trips and a rollback starts in one step,
    and a completed rollback removes the FAILED deployment, so this snapshot is always mid-rollback."""
    service = fargate.wait_until(
        name,
        lambda s: any(
            d["taskDefinition"] == bad_td and d["rolloutState"] == "FAILED" for d in s["deployments"]
        ),
    )
    return service, next(d for d in service["deployments"] if d["taskDefinition"] == bad_td)


def test_a_missing_ecr_tag_fails_the_rollout_and_rolls_back_to_the_last_completed_revision(
    fargate: Any, good: str
) -> None:
    missing = good.replace(":v1", ":does-not-exist")
    v1, v2 = fargate.task_definition(good), fargate.task_definition(missing)
    first = _deploy_then_update(fargate, "pull", v1, v2)

    rolling_back, failed = _when_failed(fargate, "pull", v2)
    assert failed["rolloutStateReason"] == BREAKER_REASON
    assert failed["failedTasks"] >= 3
    assert (failed["status"], failed["runningCount"]) == ("ACTIVE", 0)
    primary = rolling_back["deployments"][0]
    assert (primary["status"], primary["rolloutState"], primary["taskDefinition"]) == (
        "PRIMARY",
        "IN_PROGRESS",
        v1,
    )
    assert rolling_back["taskDefinition"] == v1

    done = fargate.wait_completed("pull", v1)
    assert done["taskDefinition"] == v1
    assert done["deployments"][0]["id"] != first["deployments"][0]["id"]
    messages = [e["message"] for e in done["events"]]
    assert f"(service pull) rolling back to deployment {first['deployments'][0]['id']}." in messages
    assert f"(service pull) (deployment {failed['id']}) deployment failed: tasks failed to start." in messages
    stopped = [t for t in fargate.tasks("pull", status="STOPPED") if t["taskDefinitionArn"] == v2]
    assert stopped and all(t["lastStatus"] == "STOPPED" for t in stopped)
    assert all(t["stoppedReason"].startswith("CannotPullContainerError:") for t in stopped)
    assert all(missing in t["stoppedReason"] for t in stopped)
    assert all(t["startedBy"] == failed["id"] for t in stopped)


def test_a_crashing_image_fails_the_rollout_and_rolls_back(fargate: Any, good: str) -> None:
    crashing = push_image(fargate.endpoint, "failures/web", "v2-crash", crash=True)
    v1, v2 = fargate.task_definition(good), fargate.task_definition(crashing)
    _deploy_then_update(fargate, "crash", v1, v2)

    rolling_back, failed = _when_failed(fargate, "crash", v2)
    assert failed["rolloutStateReason"] == BREAKER_REASON
    assert rolling_back["deployments"][0]["taskDefinition"] == v1

    fargate.wait_completed("crash", v1)
    stopped = [t for t in fargate.tasks("crash", status="STOPPED") if t["taskDefinitionArn"] == v2]
    assert stopped
    assert {t["stoppedReason"] for t in stopped} == {"Essential container in task exited"}
    assert {c["exitCode"] for t in stopped for c in t["containers"]} == {1}


def test_a_first_deployment_that_cannot_start_stays_failed_without_a_rollback(
    fargate: Any, good: str
) -> None:
    td = fargate.task_definition(good.replace("failures/web:v1", "failures/never-pushed:v1"))
    fargate.create_service("first-fails", td, desired=2)

    _, failed = _when_failed(fargate, "first-fails", td)

    service = fargate.describe("first-fails")
    assert [(d["status"], d["rolloutState"]) for d in service["deployments"]] == [("PRIMARY", "FAILED")]
    assert failed["runningCount"] == 0 and service["runningCount"] == 0
    assert service["taskDefinition"] == td
    assert fargate.tasks("first-fails") == []


def test_a_crash_pushed_tag_pushed_again_normally_runs(fargate: Any) -> None:
    crashing = push_image(fargate.endpoint, "failures/fixed", "v1", crash=True)
    assert push_image(fargate.endpoint, "failures/fixed", "v1") == crashing
    td = fargate.task_definition(crashing)
    fargate.create_service("fixed", td)
    assert fargate.wait_completed("fixed", td)["runningCount"] == 1


@pytest.mark.parametrize(
    ("name", "image"),
    [
        ("docker-hub", "nginx:1.25"),
        ("ghcr", "ghcr.io/example/app:2.0"),
        ("other-account", "999999999999.dkr.ecr.eu-west-1.amazonaws.com/other:v1"),
    ],
)
def test_an_image_outside_this_accounts_ecr_is_assumed_pullable(fargate: Any, name: str, image: str) -> None:
    td = fargate.task_definition(image)
    fargate.create_service(name, td)
    assert fargate.wait_completed(name, td)["runningCount"] == 1


def test_an_ecr_image_referenced_by_digest_runs_and_reports_its_digest(
    fargate: Any, clients: Any, good: str
) -> None:
    digest = clients("ecr").describe_images(repositoryName="failures/web", imageIds=[{"imageTag": "v1"}])[
        "imageDetails"
    ][0]["imageDigest"]
    td = fargate.task_definition(good.replace(":v1", f"@{digest}"))
    fargate.create_service("by-digest", td)
    fargate.wait_completed("by-digest", td)
    [task] = fargate.tasks("by-digest")
    assert task["containers"][0]["imageDigest"] == digest
