"""The tasks of emulated ECS services: launched, started, stopped and failed the way ECS reports them.

moto never launches tasks for a service. The rollout simulation (`rollout.py`) creates them here as moto
`Task` objects stored in the ECS backend, so `list_tasks`/`describe_tasks` and the `tasks_*` waiters see
them. A `SandboxTask` changes state only when the simulation says so: moto's state manager, which advances
tasks on every describe, does not apply to it. Stopping a task releases its ENI (as ECS does) and removes
its IP from the service's target groups; starting one registers it there. In a service with load
balancers a started task's targets report `initial` until its health check is due (`health_due`), then
`healthy` (`passed_health_checks`) — or, for an image pushed as unhealthy, `unhealthy` from the start
(`elb.py` overrides moto, which reports every target healthy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from moto.core.utils import utcnow
from moto.ec2.exceptions import InvalidNetworkInterfaceIdError, InvalidSubnetIdError
from moto.ec2.models import ec2_backends
from moto.ecs.models import Container, EC2ContainerServiceBackend, Service, Task, TaskDefinition
from moto.elbv2.models import FakeTargetGroup, elbv2_backends

from cloudfauj.sandbox import discovery, elb
from cloudfauj.sandbox.images import Unrunnable

__all__ = [
    "Placement",
    "SandboxTask",
    "TargetGroup",
    "count_cluster",
    "fail",
    "launch",
    "passed_health_checks",
    "prune",
    "start",
    "stop",
    "target_groups",
]


@dataclass(frozen=True)
class Placement:
    """Where and as what a deployment's tasks run: taken from the service once per launch."""

    service: Service
    backend: EC2ContainerServiceBackend
    task_definition: TaskDefinition
    deployment_id: str


class SandboxTask(Task):
    """A service task whose state only the rollout simulation changes."""

    due: float = 0.0  # monotonic time at which a PENDING task starts (or fails)
    health_due: float | None = None  # with load balancers: when its targets' health checks conclude
    # What ECS reports and moto's Task lacks: set by this module, read by moto's serializer by name.
    created_at: datetime
    cpu: str | None
    memory: str | None
    availability_zone: str | None
    platform_family: str
    health_status: str
    connectivity: str
    connectivity_at: datetime
    version: int
    pull_started_at: datetime
    pull_stopped_at: datetime
    started_at: datetime
    stopping_at: datetime
    execution_stopped_at: datetime
    stopped_at: datetime
    stop_code: str

    @property  # a plain attribute: describes must not advance it
    def status(self) -> str | None:
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value

    def advance(self) -> None:
        """moto calls this on every describe; real tasks do not change because someone looked."""


def _network(service: Service, index: int) -> dict[str, Any] | None:
    """The service's awsvpc configuration with the subnet for this task first (tasks spread over subnets)."""
    vpc = (service.network_configuration or {}).get("awsvpcConfiguration")
    if not vpc or not vpc.get("subnets"):
        return None
    subnets = list(vpc["subnets"])
    chosen = subnets[index % len(subnets)]
    ordered = [chosen] + [s for s in subnets if s != chosen]
    return {
        "awsvpcConfiguration": {**vpc, "subnets": ordered, "securityGroups": vpc.get("securityGroups", [])}
    }


def _tags(service: Service, task_definition: TaskDefinition) -> list[dict[str, str]]:
    if service.propagate_tags == "SERVICE":
        return list(service.tags)
    if service.propagate_tags == "TASK_DEFINITION":
        return list(task_definition.tags or [])
    return []


def _loose(container: Container) -> Any:
    """The container as Any, to set what moto's Container does not model: `image_digest`, `reason`, and
    an `exitCode` of None (ECS reports none until the container exits). moto's serializer reads them."""
    return container


def _containers(task_definition: TaskDefinition) -> list[Container]:
    """One container per definition (moto models only the first)."""
    containers = []
    for definition in task_definition.container_definitions:
        # moto leaves CloudFormationModel's abstract methods unimplemented on Container and creates it so too.
        container = Container(task_definition)  # type: ignore[abstract]
        container.name = definition.get("name")
        container.image = definition.get("image")
        container.cpu = definition.get("cpu", 0)
        container.memory = definition.get("memory")
        _loose(container).exitCode = None
        container.health_status = "UNKNOWN"
        containers.append(container)
    return containers


def _new_task(place: Placement, index: int) -> SandboxTask:
    service, td = place.service, place.task_definition
    fargate = service.launch_type in (None, "", "FARGATE")
    strategy = getattr(service, "capacity_provider_strategy", None) or []
    # A subnet deleted under the service makes moto raise InvalidSubnetIdError here; we let it surface.
    return SandboxTask(
        cluster=place.backend.clusters[service.cluster_name],
        task_definition=td,
        container_instance_arn=None,
        resource_requirements=None,
        backend=place.backend,
        group=f"service:{service.name}",
        launch_type=service.launch_type or "FARGATE",
        started_by=place.deployment_id,
        tags=_tags(service, td),
        networking_configuration=_network(service, index),
        platform_version="1.4.0" if fargate else None,
        capacity_provider_name=strategy[0]["capacityProvider"] if strategy else None,
    )


def launch(
    place: Placement, count: int, *, due: float, offset: int = 0, health_check: float | None = None
) -> list[SandboxTask]:
    """Create `count` PENDING tasks of the deployment and store them in moto's ECS backend. They are done
    at `due`: without `health_check` they start then; with it (load balancers) they start `health_check`
    seconds earlier and their health checks conclude at `due`."""
    tasks: list[SandboxTask] = []
    now = utcnow()
    for i in range(count):
        task = _new_task(place, offset + i)
        task.status = "PENDING"
        task.due = due if health_check is None else due - health_check
        task.health_due = None if health_check is None else due
        task.containers = _containers(place.task_definition)
        task.created_at = now
        task.cpu = place.task_definition.cpu
        task.memory = place.task_definition.memory
        task.availability_zone = _availability_zone(task)
        task.platform_family = "Linux"
        task.health_status = "UNKNOWN"
        task.connectivity = "CONNECTED"
        task.connectivity_at = now
        task.version = 1
        place.backend.tasks.setdefault(place.service.cluster_name, {})[task.task_arn] = task
        tasks.append(task)
    return tasks


def _detail(task: Task, name: str) -> str | None:
    for attachment in task.attachments:
        # moto infers its attachments' values as Collection[str]; "details" is a list of name/value pairs.
        for detail in cast(list[dict[str, str]], attachment.get("details", [])):
            if detail.get("name") == name:
                return detail.get("value")
    return None


def _availability_zone(task: Task) -> str | None:
    subnet_id = _detail(task, "subnetId")
    if subnet_id is None:
        return None
    try:
        return ec2_backends[task._account_id][task.region_name].get_subnet(subnet_id).availability_zone
    except InvalidSubnetIdError:
        return None


@dataclass(frozen=True)
class TargetGroup:
    """One of the service's load balancers whose target group takes task IPs."""

    group: FakeTargetGroup
    port: int | None  # the container port
    container: str | None  # the container name


def target_groups(service: Service) -> list[TargetGroup]:
    """The service's existing `ip` target groups: the only ones ECS registers Fargate tasks in."""
    backend = elbv2_backends[service._account_id][service.region_name]
    found = []
    for lb in service.load_balancers or []:
        group = backend.target_groups.get(lb.get("targetGroupArn") or "")
        if group is not None and group.target_type == "ip":
            found.append(TargetGroup(group, lb.get("containerPort"), lb.get("containerName")))
    return found


def _register(
    task: SandboxTask, service: Service, *, on: bool, health: Callable[[FakeTargetGroup], elb.Health | None]
) -> None:
    """Put the task's IP into (or take it out of) the service's `ip` target groups, as ECS does, and set
    the health its target reports there."""
    ip = _detail(task, "privateIPv4Address")
    if ip is None:
        return
    discovery.register_task(service, task, ip, on=on)
    for balanced in target_groups(service):
        group = balanced.group
        if on:
            group.register([{"Id": ip, "Port": balanced.port or group.port}])
            elb.mark(group, ip, health(group))
        else:
            group.targets.pop(ip, None)
            elb.mark(group, ip, None)


def _unmarked(group: FakeTargetGroup) -> elb.Health | None:
    return None


def start(
    task: SandboxTask,
    service: Service,
    *,
    digests: dict[str, str],
    unhealthy_groups: frozenset[str] = frozenset(),
) -> None:
    """PENDING → RUNNING: the images were pulled and the containers run. Its targets report `unhealthy`
    in the target groups named (by ARN) in `unhealthy_groups`, `initial` in the others until
    `passed_health_checks`; without a pending health check (`health_due`), moto's `healthy`."""
    now = utcnow()
    task.status = "RUNNING"
    task.pull_started_at = task.created_at
    task.pull_stopped_at = now
    task.started_at = now
    for container in task.containers:
        container.last_status = "RUNNING"
        if container.image in digests:
            _loose(container).image_digest = digests[container.image]

    def health(group: FakeTargetGroup) -> elb.Health | None:
        if group.arn in unhealthy_groups:
            return elb.UNHEALTHY
        return elb.INITIAL if task.health_due is not None else None

    _register(task, service, on=True, health=health)


def passed_health_checks(task: SandboxTask, service: Service) -> None:
    """The task's targets turn `healthy` (moto's own answer)."""
    task.health_due = None
    _register(task, service, on=True, health=_unmarked)


def _release(task: SandboxTask, service: Service, now: datetime) -> None:
    """What ECS does to any stopping task: deregister it, then delete its ENI."""
    task.health_due = None
    _register(task, service, on=False, health=_unmarked)
    eni = _detail(task, "networkInterfaceId")
    if eni is not None:
        try:
            ec2_backends[task._account_id][task.region_name].delete_network_interface(eni)
        except InvalidNetworkInterfaceIdError:
            pass  # already gone (e.g. deleted through the EC2 API)
    for attachment in task.attachments:
        attachment["status"] = "DELETED"
    task.desired_status = "STOPPED"
    task.status = "STOPPED"
    task.stopping_at = task.execution_stopped_at = task.stopped_at = now


def stop(
    task: SandboxTask, service: Service, *, reason: str, stop_code: str = "ServiceSchedulerInitiated"
) -> None:
    """Stop a task the scheduler no longer wants (replaced, scaled in, service deleted)."""
    was_running = task.status == "RUNNING"
    _release(task, service, utcnow())
    task.stopped_reason = reason
    task.stop_code = stop_code
    for container in task.containers:
        container.last_status = "STOPPED"
        _loose(container).exitCode = 0 if was_running else None


def fail(task: SandboxTask, service: Service, why: Unrunnable) -> None:
    """Stop a task whose image could not be pulled or whose essential container exited."""
    now = utcnow()
    if why.exit_code is not None and task.status != "RUNNING":  # it did start, then exited
        task.pull_started_at, task.pull_stopped_at, task.started_at = task.created_at, now, now
    _release(task, service, now)
    task.stopped_reason = why.reason
    task.stop_code = why.stop_code
    for container in task.containers:
        container.last_status = "STOPPED"
        _loose(container).exitCode = why.exit_code
        if why.container_reason:
            _loose(container).reason = why.container_reason


def prune(service: Service, backend: EC2ContainerServiceBackend, *, keep: int) -> None:
    """Forget the oldest stopped tasks of the service beyond `keep`, as ECS forgets them after a while."""
    cluster_tasks = backend.tasks.get(service.cluster_name, {})
    group = f"service:{service.name}"
    stopped = [arn for arn, t in cluster_tasks.items() if t.group == group and t.desired_status == "STOPPED"]
    for arn in stopped[:-keep]:
        del cluster_tasks[arn]


def count_cluster(backend: EC2ContainerServiceBackend, cluster_name: str) -> None:
    """Set the cluster's running/pending task counts from its tasks (moto's own tallies drift)."""
    cluster = backend.clusters.get(cluster_name)
    if cluster is not None:
        everything = list(backend.tasks.get(cluster_name, {}).values())
        cluster.running_tasks_count = sum(t.last_status == "RUNNING" for t in everything)
        cluster.pending_tasks_count = sum(t.last_status == "PENDING" for t in everything)
