"""Where the sandbox hooks into moto's Cloud Map (servicediscovery): deleting a namespace as AWS does.

moto 5.2.5 deletes a private DNS namespace even while services are in it, and leaves behind the private
Route53 hosted zone it created for it. AWS refuses (`ResourceInUse`) until the namespace is empty, then
deletes the zone with it. Without this, an environment's deletion would pass a test that AWS fails, and
every deleted environment would leave a zone in the emulated account.
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.route53.models import route53_backends
from moto.servicediscovery.models import ServiceDiscoveryBackend

__all__ = ["install"]

_installed = False


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
    _installed = True
