"""Where the sandbox hooks into moto's ECS, and the ticker that moves rollouts on.

moto stays the emulator; we patch a few methods of its in-process classes (moto is pinned, so these
internals are stable):

- every ECS request runs under `rollout.LOCK`, so a request and a simulation step never interleave, and
  a response is serialized from a consistent state; it first takes the steps that are due, so what it
  reads does not lag by up to a tick;
- create_service keeps what moto drops (deploymentConfiguration, healthCheckGracePeriodSeconds,
  capacityProviderStrategy, enableExecuteCommand, enableECSManagedTags), refuses what ECS refuses (an
  ACTIVE service of that name: "Creation of service was not idempotent."; launchType together with
  capacityProviderStrategy; awsvpc without networkConfiguration) and starts the first rollout;
- update_service refuses an INACTIVE service, stores the task definition as an ARN, starts a rollout
  when the revision or the load balancers change or forceNewDeployment is set, otherwise scales;
- delete_service stops the service's tasks;
- list_tasks honours serviceName, matches the cluster exactly and (as ECS) defaults to desiredStatus
  RUNNING; describe_tasks matches exactly and no longer advances tasks on every call.

A service's rollouts take the `rollout_seconds` of the sandbox it was created through, recognised by
the port in the request's Host header.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.ecs.exceptions import ECSException, InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend, Service, Task
from moto.ecs.responses import EC2ContainerServiceResponse

from cloudfauj.sandbox import rollout

__all__ = ["Ticker", "configure", "forget", "install"]

log = logging.getLogger("cloudfauj.sandbox")

_DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
_installed = False


@dataclass
class _Timing:
    """Rollout durations per sandbox, keyed by its port: several sandboxes can share moto in one process,
    and a service's rollouts take the duration of the sandbox it was created through."""

    default: float = 3.0
    by_port: dict[int, float] = field(default_factory=dict)

    def for_host(self, host: str | None) -> float:
        port = (host or "").rpartition(":")[2]
        return self.by_port.get(int(port), self.default) if port.isdigit() else self.default


_timing = _Timing()


def configure(*, port: int, rollout_seconds: float) -> None:
    """Rollouts of services created through the sandbox listening on `port` take `rollout_seconds`."""
    _timing.by_port[port] = _timing.default = rollout_seconds


def forget(port: int) -> None:
    _timing.by_port.pop(port, None)


def _locked(original: Callable[..., Any]) -> Callable[..., Any]:
    def call_action(self: EC2ContainerServiceResponse) -> Any:
        with rollout.LOCK:
            _step()  # a request sees every step that is due, as on ECS, not the ticker's last one
            return original(self)

    return call_action


def _refuse_existing(backend: EC2ContainerServiceBackend, cluster_name: str, name: str) -> None:
    existing = backend.services.get(f"{cluster_name}:{name}")
    if existing is not None and existing.status == "ACTIVE":
        raise InvalidParameterException("Creation of service was not idempotent.")


def _refuse_both_placements(launch_type: str | None, strategy: Any) -> None:
    if launch_type and strategy:
        raise InvalidParameterException(
            "Specifying both a launch type and capacity provider strategy is not supported. "
            "Remove one and try again."
        )


def _require_network(backend: EC2ContainerServiceBackend, td_str: str | None, network: Any) -> None:
    if td_str and backend.describe_task_definition(td_str).network_mode == "awsvpc" and not network:
        raise InvalidParameterException(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified."
        )


def _kept(service: Service) -> Any:
    """The service as Any, to set the fields moto's Service drops (it declares no attributes for them);
    moto's serializer reads them by name."""
    return service


def _launch_type(service: Service, backend: EC2ContainerServiceBackend, given: str | None) -> None:
    """ECS reads capacityProviderStrategy, else launchType, else the cluster's default strategy."""
    strategy = getattr(service, "capacity_provider_strategy", None)
    if not strategy and not given:
        cluster = backend.clusters.get(service.cluster_name)
        strategy = cluster.default_capacity_provider_strategy if cluster else None
    if strategy:
        _kept(service).capacity_provider_strategy = strategy
        service.launch_type = None  # moto would report "EC2"
    if service.platform_version is None and service.launch_type in (None, "FARGATE"):
        service.platform_version = "LATEST"


def _keep_dropped_fields(service: Service, param: Callable[[str], Any]) -> None:
    kept = _kept(service)
    kept.deployment_configuration = {
        **_DEFAULT_DEPLOYMENT_CONFIGURATION,
        **(param("deploymentConfiguration") or {}),
    }
    kept.health_check_grace_period_seconds = param("healthCheckGracePeriodSeconds")
    kept.capacity_provider_strategy = param("capacityProviderStrategy")
    kept.enable_execute_command = bool(param("enableExecuteCommand"))
    kept.enable_ecs_managed_tags = bool(param("enableECSManagedTags"))
    kept.availability_zone_rebalancing = param("availabilityZoneRebalancing")
    kept.created_at = utcnow()


def _create_service(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_service(self: EC2ContainerServiceResponse) -> ActionResult:
        with rollout.LOCK:
            backend = self.ecs_backend
            cluster = backend._get_cluster(self._get_param("cluster", "default"))
            _refuse_existing(backend, cluster.name, self._get_param("serviceName"))
            _refuse_both_placements(
                self._get_param("launchType"), self._get_param("capacityProviderStrategy")
            )
            _require_network(
                backend, self._get_param("taskDefinition"), self._get_param("networkConfiguration")
            )
            result = original(self)
            service = result.result["service"]
            _keep_dropped_fields(service, self._get_param)
            _launch_type(service, backend, self._get_param("launchType"))
            rollout.on_create(service, backend, rollout_seconds=_timing.for_host(self.headers.get("Host")))
            return result  # type: ignore[no-any-return]

    return create_service


def _update_service(original: Callable[..., Service]) -> Callable[..., Service]:
    def update_service(self: EC2ContainerServiceBackend, props: dict[str, Any]) -> Service:
        with rollout.LOCK:
            service = self._get_service(props.get("cluster", "default"), props["service"].split("/")[-1])
            if service.status != "ACTIVE":
                raise ECSException("ServiceNotActiveException", "Service was not ACTIVE.")
            force = bool(props.pop("force_new_deployment", False))  # moto would only rename the deployment
            td_str = props.get("task_definition")
            td_arn = self.describe_task_definition(td_str).arn if td_str else None
            old_desired, old_config, old_balancers = (
                service.desired_count,
                getattr(service, "deployment_configuration", None),
                list(service.load_balancers or []),
            )
            old_registries = list(getattr(service, "service_registries", None) or [])
            original(self, props)
            if td_arn:
                service.task_definition = td_arn  # moto keeps the string as given ("family:2")
            if props.get("deployment_configuration") and old_config:
                _kept(service).deployment_configuration = {**old_config, **props["deployment_configuration"]}
            if props.get("capacity_provider_strategy"):
                service.launch_type = None
            deployed = service.deployments[0]["taskDefinition"] if service.deployments else None
            # like ECS: a new task definition, new load balancers or new service registries (Cloud Map)
            # start a deployment
            balancers_changed = (
                props.get("load_balancers") is not None
                and list(service.load_balancers or []) != old_balancers
            )
            registries_changed = (
                props.get("service_registries") is not None
                and list(getattr(service, "service_registries", None) or []) != old_registries
            )
            redeploy = (
                force
                or balancers_changed
                or registries_changed
                or (td_arn is not None and td_arn != deployed)
            )
            rollout.on_update(service, self, redeploy=redeploy, old_desired=old_desired)
            return service

    return update_service


def _delete_service(original: Callable[..., Service]) -> Callable[..., Service]:
    def delete_service(
        self: EC2ContainerServiceBackend, cluster_name: str, service_name: str, force: bool
    ) -> Service:
        with rollout.LOCK:
            service = original(self, cluster_name, service_name, force)
            rollout.on_delete(service, self)
            return service

    return delete_service


def _list_tasks(
    self: EC2ContainerServiceBackend,
    cluster_str: str | None = None,
    container_instance: str | None = None,
    family: str | None = None,
    started_by: str | None = None,
    service_name: str | None = None,
    desiredStatus: str | None = None,  # noqa: N803 - moto's parameter name
) -> list[Task]:
    cluster = self._get_cluster(cluster_str or "default")
    found = list(self.tasks.get(cluster.name, {}).values())
    if service_name:
        name = service_name.split("/")[-1]
        self._get_service(cluster.name, name)  # ServiceNotFoundException, as ECS
        found = [t for t in found if t.group == f"service:{name}"]
    if container_instance:
        found = [t for t in found if container_instance.split("/")[-1] in (t.container_instance_arn or "")]
    if family:
        arns = set(self.list_task_definitions(family))
        found = [t for t in found if t.task_definition_arn in arns]
    if started_by:
        found = [t for t in found if t.started_by == started_by]
    wanted = desiredStatus or "RUNNING"  # ECS's default filter
    return [t for t in found if t.desired_status == wanted]


def _describe_tasks(self: EC2ContainerServiceBackend, cluster_str: str, tasks: list[str]) -> list[Task]:
    cluster = self._get_cluster(cluster_str)
    if not tasks:
        raise InvalidParameterException("Tasks cannot be empty.")
    wanted = {t.split("/")[-1] for t in tasks}
    return [t for t in self.tasks.get(cluster.name, {}).values() if t.id in wanted]


def install() -> None:
    """Patch moto's ECS classes, once per process."""
    global _installed
    if _installed:
        return
    response, backend = EC2ContainerServiceResponse, EC2ContainerServiceBackend
    response.call_action = _locked(response.call_action)  # type: ignore[method-assign]
    response.create_service = _create_service(response.create_service)  # type: ignore[method-assign]
    backend.update_service = _update_service(backend.update_service)  # type: ignore[method-assign]
    backend.delete_service = _delete_service(backend.delete_service)  # type: ignore[method-assign]
    backend.list_tasks = _list_tasks  # type: ignore[method-assign]
    backend.describe_tasks = _describe_tasks  # type: ignore[method-assign]
    # moto sets this attribute only when the VPC has DNS hostnames; tasks in other VPCs would crash run_task.
    # moto declares it a str (set per instance); this class-level None is the fallback, hence the ignore.
    NetworkInterface.private_dns_name = None  # type: ignore[assignment]
    _installed = True


def _step() -> None:
    """Move every rollout on to now; expects `rollout.LOCK` to be held."""
    try:
        rollout.tick(time.monotonic())
    # The one broad catch in the sandbox: the simulation is the emulator's clock. If one service's state
    # trips a bug, every other rollout must still progress (and the request be answered), so we log it.
    except Exception:
        log.exception("sandbox: rollout simulation step failed; continuing")


class Ticker:
    """The background thread that moves rollouts on, every `interval` seconds."""

    def __init__(self, interval: float = 0.1) -> None:
        self._interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="sandbox-rollout-ticker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            with rollout.LOCK:
                _step()
