"""Where the sandbox hooks into moto's Cloud Map (servicediscovery): deleting a namespace as AWS does, and
keeping a service's tasks registered in the Cloud Map services its `serviceRegistries` name.

ECS registers each running task's IP in those services (instance id = the task id, attribute
`AWS_INSTANCE_IPV4`) and deregisters it when the task stops; moto stores `serviceRegistries` and does
nothing with them. `register_task` is called by `tasks.py` wherever a task's load-balancer targets are.

moto 5.2.5 deletes a private DNS namespace even while services are in it (and a service while instances
are registered in it), and leaves behind the private Route53 hosted zone it created for a namespace. AWS
refuses (`ResourceInUse`) until the namespace (the service) is empty, then deletes the zone with it.
Without this, a teardown would pass a test that AWS fails, and every deleted environment would leave a
zone in the emulated account.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.route53.models import route53_backends
from moto.servicediscovery.exceptions import ServiceNotFound
from moto.servicediscovery.models import ServiceDiscoveryBackend, servicediscovery_backends

__all__ = ["install", "register_task"]

_installed = False
_REGISTRIES = "_cloudfauj_registries"  # on a task: the Cloud Map services it is registered in


class ResourceInUse(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ResourceInUse", message)


def install() -> None:
    global _installed
    if _installed:
        return
    original = ServiceDiscoveryBackend.delete_namespace

    def delete_namespace(self: ServiceDiscoveryBackend, namespace_id: str) -> str:
        namespace: Any = self.namespaces.get(namespace_id)
        if namespace is not None and any(s.namespace_id == namespace_id for s in self.services.values()):
            raise ResourceInUse(f"Namespace {namespace_id} has associated services")
        operation = original(self, namespace_id)
        zone = (namespace.dns_properties or {}).get("HostedZoneId") if namespace is not None else None
        if zone:
            route53_backends[self.account_id][self.partition].delete_hosted_zone(zone)
        return operation

    ServiceDiscoveryBackend.delete_namespace = delete_namespace  # type: ignore[method-assign]
    delete_service = ServiceDiscoveryBackend.delete_service

    def delete_service_when_empty(self: ServiceDiscoveryBackend, service_id: str) -> None:
        service: Any = self.services.get(service_id)
        if service is not None and service.instances:
            raise ResourceInUse(f"Service {service_id} has registered instances")
        delete_service(self, service_id)

    ServiceDiscoveryBackend.delete_service = delete_service_when_empty  # type: ignore[method-assign]
    _installed = True


def register_task(service: Any, task: Any, ip: str, *, on: bool) -> None:
    """Put a task's IP into the Cloud Map services of its ECS `service`, or take it out of those it was
    put into (the service may name other registries by then, or none)."""
    backend = servicediscovery_backends[service._account_id][service.region_name]
    if on:
        registries = [
            str(r.get("registryArn", "")) for r in getattr(service, "service_registries", None) or []
        ]
        setattr(task, _REGISTRIES, registries)
    else:
        registries = getattr(task, _REGISTRIES, [])
        setattr(task, _REGISTRIES, [])
    for arn in registries:
        service_id = arn.rsplit("/", 1)[-1]
        try:
            registered = any(i.instance_id == task.id for i in backend.get_service(service_id).instances)
            if on and not registered:  # started, then healthy: registered once, as AWS upserts
                backend.register_instance(service_id, task.id, task.id, {"AWS_INSTANCE_IPV4": ip})
            elif not on and registered:
                backend.deregister_instance(service_id, task.id)
        except ServiceNotFound:
            continue  # deleted under the ECS service: ECS goes on without it
