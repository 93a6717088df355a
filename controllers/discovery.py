"""Private applications: Cloud Map service discovery inside the environment's VPC.

An environment gets a private DNS namespace (`<env>.internal`) the first time one of its applications
is private; it is tagged as the environment's and deleted with it. Each private application gets a
Cloud Map service in it (`<app>.<env>.internal`, A records of its tasks' IPs, health from ECS), which its
ECS service names in `serviceRegistries`; ECS registers and deregisters the tasks. (ECS Service Connect
would do too, but moto drops its settings, and a DNS name is what any client in the VPC can use.)

Creating a namespace is asynchronous in AWS: the create answers with an operation and the namespace
appears when it is done. The create carries an idempotency token (`CreatorRequestId`) of the record, so
the next attempt observes, and repeats the create harmlessly until the namespace is there.
"""

from __future__ import annotations

import threading
from typing import Any

from cloudfauj.aws import AwsError, Gateway, as_ec2, from_aws, is_owned
from cloudfauj.errors import TemporaryError
from controllers import naming
from controllers.base import Change, Context
from controllers.idempotency import client_token

__all__ = ["Discovery", "delete_namespace", "find_namespace"]

_CREATING = threading.Lock()  # two private apps of one environment must not create two namespaces
DNS_TTL = 10  # seconds: a replaced task's address goes out of caches quickly


def find_namespace(aws: Gateway, env: str) -> dict[str, Any] | None:
    """The environment's namespace, when it exists and is ours: {id, arn, name}."""
    name = naming.namespace(env)
    for ns in aws.paginate("servicediscovery", "list_namespaces", "Namespaces"):
        if ns.get("Name") != name or ns.get("Type") != "DNS_PRIVATE":
            continue
        tags = from_aws(
            aws.call("servicediscovery", "list_tags_for_resource", ResourceARN=ns["Arn"]).get("Tags")
        )
        if is_owned(tags, aws.installation_id, env=env, kind="Environment"):
            return {"id": ns["Id"], "arn": ns["Arn"], "name": name}
    return None


class Discovery:
    name = "service-discovery"

    def observe(self, ctx: Context) -> dict[str, Any]:
        """{namespace, service}: each None when absent."""
        ns = find_namespace(ctx.aws, ctx.obj.env or "")
        return {"namespace": ns, "service": self._service(ctx, ns) if ns else None}

    def _service(self, ctx: Context, ns: dict[str, Any]) -> dict[str, Any] | None:
        name = naming.dns(ctx.obj.name)
        services = ctx.aws.paginate(
            "servicediscovery",
            "list_services",
            "Services",
            Filters=[{"Name": "NAMESPACE_ID", "Values": [ns["id"]], "Condition": "EQ"}],
        )
        for svc in services:
            if svc.get("Name") != name:
                continue
            tags = from_aws(
                ctx.aws.call("servicediscovery", "list_tags_for_resource", ResourceARN=svc["Arn"]).get("Tags")
            )
            if is_owned(tags, ctx.installation_id, app=ctx.obj.name, env=ctx.obj.env):
                return {"id": svc["Id"], "arn": svc["Arn"]}
        return None

    def diff(self, wanted: bool, observed: dict[str, Any]) -> list[Change]:
        changes: list[Change] = []
        if wanted and observed["namespace"] is None:
            changes.append(Change("service-discovery namespace", "create"))
        if wanted and observed["service"] is None:
            changes.append(Change("service-discovery service", "create"))
        if not wanted and observed["service"] is not None:
            changes.append(Change(f"service-discovery service {observed['service']['arn']}", "delete"))
        return changes

    def apply(self, ctx: Context, env: dict[str, Any], observed: dict[str, Any]) -> str:
        """The app's Cloud Map service ARN, creating the namespace and the service as needed."""
        ns = observed["namespace"] or self._create_namespace(ctx, env)
        if observed["service"] is not None:
            return str(observed["service"]["arn"])
        created = ctx.mutate(
            "servicediscovery",
            "create_service",
            resource=f"service-discovery service {naming.internal_name(ctx.obj.env or '', ctx.obj.name)}",
            Name=naming.dns(ctx.obj.name),
            NamespaceId=ns["id"],
            CreatorRequestId=client_token(ctx, "discovery-service"),
            Description=f"Cloudfauj application {ctx.obj.name} in {ctx.obj.env}",
            DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": DNS_TTL}]},
            HealthCheckCustomConfig={"FailureThreshold": 1},
            Tags=as_ec2(ctx.aws.tags("Application", env=ctx.obj.env, app=ctx.obj.name)),
        )["Service"]
        return str(created["Arn"])

    def _create_namespace(self, ctx: Context, env: dict[str, Any]) -> dict[str, Any]:
        env_name = ctx.obj.env or ""
        with _CREATING:
            found = find_namespace(ctx.aws, env_name)
            if found is not None:
                return found
            ctx.mutate(
                "servicediscovery",
                "create_private_dns_namespace",
                resource=f"service-discovery namespace {naming.namespace(env_name)}",
                Name=naming.namespace(env_name),
                Vpc=env["vpc_id"],
                CreatorRequestId=client_token(ctx, "namespace"),
                Description=f"Cloudfauj: private names of environment {env_name}",
                Tags=as_ec2(ctx.aws.tags("Environment", env=env_name)),
            )
            found = find_namespace(ctx.aws, env_name)
        if found is None:  # AWS creates it in the background
            raise TemporaryError(
                f"Waiting for the private DNS namespace of environment '{env_name}'.", delay=5
            )
        return found

    def delete(self, ctx: Context, observed: dict[str, Any]) -> None:
        """The app's service (after ECS deregistered its tasks); the namespace is the environment's."""
        svc = observed["service"]
        if svc is None:
            return
        try:
            ctx.mutate(
                "servicediscovery",
                "delete_service",
                resource=f"service-discovery service {svc['arn']}",
                Id=svc["id"],
            )
        except AwsError as e:
            if e.code == "ResourceInUse":
                raise TemporaryError(
                    "ECS is still deregistering the application's tasks; waiting.", delay=5
                ) from e
            if e.code != "ServiceNotFound":
                raise


def delete_namespace(ctx: Context, env: str) -> None:
    """The environment's namespace, once its applications' services are gone."""
    ns = find_namespace(ctx.aws, env)
    if ns is None:
        return
    try:
        ctx.mutate(
            "servicediscovery",
            "delete_namespace",
            resource=f"service-discovery namespace {ns['name']}",
            Id=ns["id"],
        )
    except AwsError as e:
        if e.code == "ResourceInUse":
            raise TemporaryError("The private DNS namespace still holds services; waiting.", delay=5) from e
        if e.code != "NamespaceNotFound":
            raise
