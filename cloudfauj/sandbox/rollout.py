"""ECS rollouts, simulated on moto's own Service objects (ARCHITECTURE §8).

moto keeps one frozen PRIMARY deployment per service and never runs a task. Here a rollout progresses as
ECS's rolling update does, in `rollout_seconds`:

    create / new task definition / forceNewDeployment
        → new PRIMARY deployment IN_PROGRESS, its tasks PENDING; the previous PRIMARY becomes ACTIVE
    after rollout_seconds, image runnable
        → tasks RUNNING, PRIMARY COMPLETED, ACTIVE deployments and their tasks stopped and removed
    after rollout_seconds, image missing from ECR or crashing
        → tasks STOPPED with ECS's reason; with the circuit breaker: FAILED, then (rollback=True and an
          earlier deployment completed) a new PRIMARY on that deployment's task definition; without the
          circuit breaker ECS keeps relaunching tasks and the deployment stays IN_PROGRESS

With load balancers (`ip` target groups) the tasks start halfway, register their IPs with targets
`initial`, and their health checks conclude at rollout_seconds: targets `healthy`, then COMPLETED as
above. An image pushed as unhealthy starts too, but its targets report `unhealthy`; when the checks
conclude ECS stops the tasks ("Task failed ELB health checks in (target-group ARN)") and the rollout
fails exactly as a crashing image's does (circuit breaker, rollback). A service without load balancers
runs an unhealthy image like any other.

Service events use ECS's wording, newest first. The simulation state of a service lives on the moto
Service object itself, so `/moto-api/reset` forgets it together with the service. Every function here
expects `LOCK` to be held: the ECS request handlers (`ecs.py`) and the ticker take it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from math import ceil
from typing import Any

from moto.core.utils import utcnow
from moto.ecs.models import EC2ContainerServiceBackend, Service, TaskDefinition, ecs_backends
from moto.moto_api._internal import mock_random

from cloudfauj.sandbox import elb, tasks
from cloudfauj.sandbox.images import Unrunnable, Verdict, check_containers, failed_elb_health_checks
from cloudfauj.sandbox.tasks import Placement, SandboxTask

__all__ = ["LOCK", "on_create", "on_delete", "on_update", "tick"]

LOCK = threading.RLock()
EVENTS_KEPT = 100  # ECS shows a service's last 100 events
STOPPED_KEPT = 100  # stopped tasks kept per service (ECS forgets them after about an hour)
FAILED_REASON = "ECS deployment circuit breaker: tasks failed to start."
_ATTR = "_cloudfauj_sandbox"
_issued: set[str] = set()


@dataclass
class Rollout:
    """One ECS deployment of a service, with the tasks it still wants running."""

    deployment_id: str
    task_definition: TaskDefinition
    due: float  # monotonic time at which its first tasks start (or fail)
    verdict: Verdict
    rollback: bool = False
    tasks: list[SandboxTask] = field(default_factory=list)
    unhealthy_groups: tuple[str, ...] = ()  # target group ARNs where its tasks' targets fail health checks

    @property
    def why(self) -> Unrunnable | None:
        """Why its tasks stop: they cannot run, or (load balancers) they fail their health checks."""
        if self.verdict.unrunnable is None and self.unhealthy_groups:
            return failed_elb_health_checks(self.unhealthy_groups[0])
        return self.verdict.unrunnable


@dataclass
class ServiceSim:
    rollout_seconds: float
    rollouts: dict[str, Rollout] = field(default_factory=dict)
    last_completed: tuple[str, str] | None = None  # (deployment id, task definition ARN)


def sim_of(service: Service) -> ServiceSim | None:
    return getattr(service, _ATTR, None)


def _deployments(service: Service) -> list[dict[str, Any]]:
    """The service's deployments; moto infers dict[str, object] from its literal, we read ids and counts."""
    return service.deployments


def _new_deployment_id() -> str:
    while True:  # ECS ids are 19-digit numbers; unique for the process
        candidate = f"ecs-svc/{mock_random.randint(10**18, 10**19 - 1)}"
        if candidate not in _issued:
            _issued.add(candidate)
            return candidate


def _event(service: Service, message: str) -> None:
    service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": utcnow(), "message": message})
    del service.events[EVENTS_KEPT:]


def _task_list(started: list[SandboxTask]) -> str:
    return " ".join(f"(task {t.id})" for t in started)


def _breaker(service: Service) -> dict[str, Any]:
    config = getattr(service, "deployment_configuration", None) or {}
    return config.get("deploymentCircuitBreaker") or {}


def _deployment(service: Service, td_arn: str, deployment_id: str) -> dict[str, Any]:
    now = utcnow()
    fargate = service.launch_type in (None, "FARGATE")
    return {
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": td_arn,
        "desiredCount": service.desired_count,
        "pendingCount": 0,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "capacityProviderStrategy": getattr(service, "capacity_provider_strategy", None) or None,
        "launchType": service.launch_type,
        "platformVersion": "1.4.0" if fargate else None,
        "platformFamily": "Linux" if fargate else None,
        "networkConfiguration": service.network_configuration or None,
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
    }


def _launch(
    service: Service, backend: EC2ContainerServiceBackend, rollout: Rollout, count: int, due: float
) -> None:
    if count <= 0:
        return
    place = Placement(service, backend, rollout.task_definition, rollout.deployment_id)
    sim = sim_of(service)
    check = sim.rollout_seconds / 2 if sim is not None and tasks.target_groups(service) else None
    started = tasks.launch(place, count, due=due, offset=len(rollout.tasks), health_check=check)
    rollout.tasks.extend(started)
    _event(service, f"(service {service.name}) has started {len(started)} tasks: {_task_list(started)}.")


def _start_rollout(
    service: Service,
    backend: EC2ContainerServiceBackend,
    sim: ServiceSim,
    td_arn: str,
    *,
    rollback: bool = False,
) -> None:
    """A new PRIMARY deployment on `td_arn`; the previous PRIMARY becomes ACTIVE and keeps its tasks."""
    td = backend.describe_task_definition(td_arn)
    for previous in service.deployments:
        if previous["status"] == "PRIMARY":
            previous.update(status="ACTIVE", updatedAt=utcnow())
    deployment_id = _new_deployment_id()
    service.deployments.insert(0, _deployment(service, td.arn, deployment_id))
    due = time.monotonic() + sim.rollout_seconds
    verdict = check_containers(
        td.container_definitions, account=service._account_id, region=service.region_name
    )
    unhealthy = tuple(
        balanced.group.arn
        for balanced in tasks.target_groups(service)
        if balanced.container is None or balanced.container in verdict.unhealthy
    )
    rollout = Rollout(
        deployment_id,
        td,
        due,
        verdict,
        rollback=rollback,
        unhealthy_groups=unhealthy if verdict.unhealthy else (),
    )
    sim.rollouts[deployment_id] = rollout
    _launch(service, backend, rollout, service.desired_count, due)


def _recount(service: Service) -> None:
    """Deployment and service counts from the tasks (cluster counts: `tasks.count_cluster`, once per step)."""
    sim = sim_of(service)
    for deployment in _deployments(service):
        rollout = sim.rollouts.get(deployment["id"]) if sim else None
        if rollout is not None:
            deployment["runningCount"] = sum(t.status == "RUNNING" for t in rollout.tasks)
            deployment["pendingCount"] = sum(t.status == "PENDING" for t in rollout.tasks)
    service.running_count = sum(d["runningCount"] for d in _deployments(service))
    service.pending_count = sum(d["pendingCount"] for d in _deployments(service))


def _stop_all(service: Service, rollout: Rollout, reason: str) -> list[SandboxTask]:
    """Stop every task of a rollout; returns those that were running."""
    was_running = [t for t in rollout.tasks if t.status == "RUNNING"]
    for task in rollout.tasks:
        tasks.stop(task, service, reason=reason)
    rollout.tasks.clear()
    return was_running


def _announce_stopped(service: Service, stopped: list[SandboxTask]) -> None:
    if stopped:
        _event(
            service,
            f"(service {service.name}) has stopped {len(stopped)} running tasks: {_task_list(stopped)}.",
        )


def _complete(
    service: Service, backend: EC2ContainerServiceBackend, sim: ServiceSim, primary: dict[str, Any]
) -> None:
    """The PRIMARY deployment reached its desired count: ECS drains and forgets the older deployments."""
    primary.update(
        rolloutState="COMPLETED",
        rolloutStateReason=f"ECS deployment {primary['id']} completed.",
        updatedAt=utcnow(),
    )
    stopped: list[SandboxTask] = []
    for older in _deployments(service)[1:]:
        rollout = sim.rollouts.pop(older["id"], None)
        if rollout is not None:
            stopped += _stop_all(
                service, rollout, f"Scaling activity initiated by (deployment {primary['id']})"
            )
    service.deployments = [primary]
    sim.last_completed = (primary["id"], primary["taskDefinition"])
    _announce_stopped(service, stopped)
    _event(service, f"(service {service.name}) (deployment {primary['id']}) deployment completed.")
    _event(service, f"(service {service.name}) has reached a steady state.")
    tasks.prune(service, backend, keep=STOPPED_KEPT)


def _trip(
    service: Service,
    backend: EC2ContainerServiceBackend,
    sim: ServiceSim,
    primary: dict[str, Any],
    rollout: Rollout,
) -> None:
    """The circuit breaker: ECS relaunches failing tasks up to its threshold, then fails the deployment."""
    why = rollout.why
    assert why is not None  # only rollouts whose tasks fail trip the breaker
    threshold = max(3, min(200, ceil(primary["desiredCount"] / 2)))
    retries = max(0, threshold - primary["failedTasks"])
    _launch(service, backend, rollout, retries, due=time.monotonic())
    for task in rollout.tasks:
        tasks.fail(task, service, why)
    primary["failedTasks"] += len(rollout.tasks)
    rollout.tasks.clear()
    primary.update(rolloutState="FAILED", rolloutStateReason=FAILED_REASON, updatedAt=utcnow())
    _event(
        service,
        f"(service {service.name}) (deployment {primary['id']}) deployment failed: tasks failed to start.",
    )
    if _breaker(service).get("rollback") and sim.last_completed and not rollout.rollback:
        target_id, target_td = sim.last_completed
        _event(service, f"(service {service.name}) rolling back to deployment {target_id}.")
        service.task_definition = target_td
        _start_rollout(service, backend, sim, target_td, rollback=True)
    tasks.prune(service, backend, keep=STOPPED_KEPT)


def _advance(service: Service, rollout: Rollout, now: float) -> tuple[list[SandboxTask], list[SandboxTask]]:
    """Start (or fail) the rollout's PENDING tasks whose time has come, then conclude the health checks
    that are due (targets healthy, or the tasks stopped); returns (started, failed)."""
    started: list[SandboxTask] = []
    failed: list[SandboxTask] = []
    why = rollout.verdict.unrunnable
    unhealthy = frozenset(rollout.unhealthy_groups)
    for task in [t for t in rollout.tasks if t.status == "PENDING" and t.due <= now]:
        if why is None:
            tasks.start(task, service, digests=rollout.verdict.digests, unhealthy_groups=unhealthy)
            started.append(task)
        else:
            tasks.fail(task, service, why)
            rollout.tasks.remove(task)
            failed.append(task)
    checked = [t for t in rollout.tasks if _checking(t) and t.health_due is not None and t.health_due <= now]
    elb_failure = rollout.why if unhealthy else None
    for task in checked:
        if elb_failure is None:
            tasks.passed_health_checks(task, service)
        else:
            tasks.fail(task, service, elb_failure)
            rollout.tasks.remove(task)
            failed.append(task)
    if checked and elb_failure is not None:
        for balanced in tasks.target_groups(service):
            if balanced.group.arn in unhealthy:
                _event(
                    service,
                    f"(service {service.name}) (port {balanced.port or balanced.group.port}) is unhealthy in "
                    f"(target-group {balanced.group.arn}) due to (reason {elb.UNHEALTHY.description}).",
                )
        _announce_stopped(service, checked)
    return started, failed


def _checking(task: SandboxTask) -> bool:
    """Whether the task runs and its load balancer health checks have not concluded yet."""
    return task.status == "RUNNING" and task.health_due is not None


def _settled(deployment: dict[str, Any]) -> bool:
    return bool(deployment["pendingCount"] == 0 and deployment["runningCount"] == deployment["desiredCount"])


def _judge(
    service: Service,
    backend: EC2ContainerServiceBackend,
    sim: ServiceSim,
    progress: tuple[list[SandboxTask], list[SandboxTask]],
    now: float,
) -> None:
    """Decide what the PRIMARY deployment's progress means: completed, failed, or keep trying."""
    primary = _deployments(service)[0]
    rollout = sim.rollouts.get(primary["id"])
    state = primary["rolloutState"]
    if rollout is None or state == "FAILED":
        return
    started, failed = progress
    if failed and state == "IN_PROGRESS" and _breaker(service).get("enable"):
        _trip(service, backend, sim, primary, rollout)
    elif failed:  # no circuit breaker: ECS keeps trying to reach the desired count
        _launch(service, backend, rollout, len(failed), now + sim.rollout_seconds)
        tasks.prune(service, backend, keep=STOPPED_KEPT)
    elif (
        state == "IN_PROGRESS"
        and now >= rollout.due
        and _settled(primary)
        and not any(_checking(t) for t in rollout.tasks)
    ):
        _complete(service, backend, sim, primary)
    elif state == "COMPLETED" and started and _settled(primary):
        _event(service, f"(service {service.name}) has reached a steady state.")


def _busy(service: Service, sim: ServiceSim) -> bool:
    """Whether a step could change anything: a rollout in progress, or tasks waiting to start."""
    if service.deployments and service.deployments[0]["rolloutState"] == "IN_PROGRESS":
        return True
    return any(t.status == "PENDING" or _checking(t) for r in sim.rollouts.values() for t in r.tasks)


def _tick_service(service: Service, backend: EC2ContainerServiceBackend, sim: ServiceSim, now: float) -> bool:
    """One step of one service; False when there was nothing to do."""
    if not _busy(service, sim):
        return False
    primary_progress: tuple[list[SandboxTask], list[SandboxTask]] = ([], [])
    for deployment in list(_deployments(service)):
        rollout = sim.rollouts.get(deployment["id"])
        if rollout is None:
            continue
        started, failed = _advance(service, rollout, now)
        if started or failed:
            deployment["failedTasks"] += len(failed)
            deployment["updatedAt"] = utcnow()
        if deployment is service.deployments[0]:
            primary_progress = (started, failed)
    _recount(service)
    _judge(service, backend, sim, primary_progress, now)
    _recount(service)
    return True


def _backends() -> Iterator[EC2ContainerServiceBackend]:
    for account in list(ecs_backends.values()):
        yield from list(account.values())


def tick(now: float | None = None) -> None:
    """Advance every simulated service in every account and region."""
    now = time.monotonic() if now is None else now
    for backend in _backends():
        touched: set[str] = set()
        for service in list(backend.services.values()):
            sim = sim_of(service)
            if sim is not None and service.status == "ACTIVE" and _tick_service(service, backend, sim, now):
                touched.add(service.cluster_name)
        for cluster_name in touched:
            tasks.count_cluster(backend, cluster_name)


def on_create(service: Service, backend: EC2ContainerServiceBackend, *, rollout_seconds: float) -> None:
    """A new service: replace moto's frozen deployment with a first rollout taking `rollout_seconds`."""
    if service.deployment_controller.get("type", "ECS") != "ECS" or not service.task_definition:
        return
    sim = ServiceSim(rollout_seconds=rollout_seconds)
    setattr(service, _ATTR, sim)
    service.deployments = []
    _start_rollout(service, backend, sim, service.task_definition)
    _recount(service)
    tasks.count_cluster(backend, service.cluster_name)


def _scale(service: Service, backend: EC2ContainerServiceBackend, sim: ServiceSim) -> None:
    """desiredCount changed without a new deployment: the PRIMARY deployment launches or stops tasks."""
    primary = _deployments(service)[0]
    primary.update(desiredCount=service.desired_count, updatedAt=utcnow())
    rollout = sim.rollouts.get(primary["id"])
    if rollout is None or primary["rolloutState"] == "FAILED":
        return
    missing = service.desired_count - len(rollout.tasks)
    if missing > 0:
        _launch(service, backend, rollout, missing, time.monotonic() + sim.rollout_seconds)
        return
    # Scale in: pending tasks go first, then the newest running ones.
    pending = [t for t in rollout.tasks if t.status != "RUNNING"]
    newest_running = [t for t in reversed(rollout.tasks) if t.status == "RUNNING"]
    victims = (pending + newest_running)[:-missing]
    stopped = [t for t in victims if t.status == "RUNNING"]
    for task in victims:
        tasks.stop(task, service, reason=f"Scaling activity initiated by (deployment {primary['id']})")
        rollout.tasks.remove(task)
    _announce_stopped(service, stopped)
    _recount(service)
    if victims and primary["rolloutState"] == "COMPLETED" and _settled(primary):
        _event(service, f"(service {service.name}) has reached a steady state.")


def on_update(
    service: Service, backend: EC2ContainerServiceBackend, *, redeploy: bool, old_desired: int
) -> None:
    """After moto applied update_service: start a rollout, or scale the current one."""
    sim = sim_of(service)
    if sim is None:
        return
    if redeploy:
        assert service.task_definition is not None  # on_create simulates only services that have one
        _start_rollout(service, backend, sim, service.task_definition)
    elif service.desired_count != old_desired and service.deployments:
        _scale(service, backend, sim)
    _recount(service)
    tasks.count_cluster(backend, service.cluster_name)


def on_delete(service: Service, backend: EC2ContainerServiceBackend) -> None:
    """delete_service: ECS scales the service to zero; its tasks stop and it stops being simulated."""
    sim = sim_of(service)
    if sim is None:
        return
    primary_id = service.deployments[0]["id"] if service.deployments else "?"
    for rollout in sim.rollouts.values():
        _stop_all(service, rollout, f"Scaling activity initiated by (deployment {primary_id})")
    sim.rollouts.clear()
    service.desired_count = 0
    for deployment in service.deployments:
        deployment.update(desiredCount=0, runningCount=0, pendingCount=0, updatedAt=utcnow())
    _recount(service)
    tasks.count_cluster(backend, service.cluster_name)
    tasks.prune(service, backend, keep=STOPPED_KEPT)
