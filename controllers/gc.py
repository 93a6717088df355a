"""Garbage collection: AWS resources carrying this installation's ownership tag that no live object owns.

Orphans are what a deletion that never finished, a store restored from an older backup, or an object
removed behind Cloudfauj's back leave in AWS. `find_orphans` lists them, read-only (the API's dry run
calls it directly). `GarbageCollector` is the controller of the object-less `GarbageCollection` record
that `cloudfauj gc` opens: it deletes them by running the owning kind's own `finalize` on a stand-in
object — the same teardown in the same dependency order (service → task definitions → routing →
security group; load balancer → log group → role → cluster → route table → subnets → gateway → VPC;
validation records → certificate → zone), acting only on resources carrying our tags — applications
first, then environments, then domains. It never writes a second teardown.

Where orphans are looked for (moto's Resource Groups Tagging API misses some types, and AWS's misses IAM):
the tagging API filtered on `cloudfauj:managed-by` (network, ECS, load balancers, target groups,
certificates, log groups), IAM roles under our path (environments' and applications' roles), Cloud Map
namespaces and services, and Route53 hosted zones (by their tags, or — for a
zone a crash left untagged — by our CallerReference). ECS keeps deleted services, clusters and task
definitions describable; those are not orphans.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from cloudfauj.aws import MANAGED_BY, AwsError, Gateway, from_aws, is_owned
from cloudfauj.errors import PermanentError
from cloudfauj.records import StoredObject
from controllers.base import Change, Context, Controller, Done, Result, Wait
from controllers.environment import Cluster
from controllers.loadbalancer import LoadBalancing
from controllers.network import Vpc

__all__ = ["GC_KIND", "GC_NAME", "GarbageCollector", "Orphan", "Owner", "find_orphans"]

GC_KIND = "GarbageCollection"  # the kind of the records `cloudfauj gc` opens; no object has it
GC_NAME = "orphans"
ROLE_PATH = "/cloudfauj/"  # environments' execution roles live under it
LEFT = "gc_left"  # progress: the ARNs a pass could not delete, to stop when another pass changes nothing
_ORDER = {"Application": 0, "Environment": 1, "Domain": 2}  # what is built on what: delete users first


@dataclass(frozen=True)
class Owner:
    """The object a resource's tags say it belongs to: `env` is set for applications only."""

    kind: str
    env: str | None
    name: str

    def sort_key(self) -> tuple[int, str, str]:
        return _ORDER[self.kind], self.env or "", self.name


@dataclass(frozen=True)
class Orphan:
    owner: Owner
    type: str  # `service:resource-type` from the ARN, e.g. `ec2:vpc`, `ecs:service`, `iam:role`
    arn: str

    def to_dict(self) -> dict[str, Any]:
        o = self.owner
        return {
            "kind": o.kind,
            "env": o.env if o.kind == "Application" else (o.name if o.kind == "Environment" else None),
            "app": o.name if o.kind == "Application" else None,
            "domain": o.name if o.kind == "Domain" else None,
            "type": self.type,
            "arn": self.arn,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Orphan:
        kind = str(data["kind"])
        name = {"Application": data["app"], "Environment": data["env"]}.get(kind, data["domain"])
        env = data["env"] if kind == "Application" else None
        return cls(Owner(kind, env, str(name)), str(data["type"]), str(data["arn"]))


def owner_of(tags: dict[str, str]) -> Owner | None:
    """Who a resource with our tags belongs to; None for tags we did not write (left alone)."""
    kind, env, app, domain = (tags.get(f"cloudfauj:{k}") for k in ("kind", "env", "app", "domain"))
    if kind == "Application" and env and app:
        return Owner("Application", env, app)
    if kind == "Environment" and env:
        return Owner("Environment", None, env)
    if kind == "Domain" and domain:
        return Owner("Domain", None, domain)
    return None


def resource_type(arn: str) -> str:
    """`arn:aws:ec2:…:vpc/vpc-1` → `ec2:vpc`; `arn:aws:logs:…:log-group:/x:*` → `logs:log-group`."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "unknown"
    return f"{parts[2]}:{re.split(r'[/:]', parts[5], maxsplit=1)[0]}"


def find_orphans(aws: Gateway, owned: Callable[[Owner], bool]) -> list[Orphan]:
    """Every resource with our `cloudfauj:managed-by` tag whose owner `owned` denies, in deletion order."""
    found: dict[str, Orphan] = {}
    for arn, tags in _tagged(aws):
        owner = owner_of(tags)
        if owner is None or arn in found or owned(owner):
            continue
        if not _deleted(aws, arn):
            found[arn] = Orphan(owner, resource_type(arn), arn)
    return sorted(found.values(), key=lambda o: (*o.owner.sort_key(), o.type, o.arn))


def _tagged(aws: Gateway) -> list[tuple[str, dict[str, str]]]:
    """(ARN, tags) of everything carrying our managed-by tag, from every place that can say so."""
    mine = aws.installation_id
    items = [
        (r["ResourceARN"], from_aws(r.get("Tags")))
        for r in aws.paginate(
            "resourcegroupstaggingapi",
            "get_resources",
            "ResourceTagMappingList",
            TagFilters=[{"Key": MANAGED_BY, "Values": [mine]}],
        )
        if ":task/" not in r["ResourceARN"]  # tasks carry their service's tags and go with it
    ]
    for role in aws.paginate("iam", "list_roles", "Roles", PathPrefix=ROLE_PATH):
        tags = from_aws(aws.call("iam", "list_role_tags", RoleName=role["RoleName"]).get("Tags"))
        if is_owned(tags, mine):
            items.append((role["Arn"], tags))
    items += _discovery_tagged(aws)
    for zone in aws.paginate("route53", "list_hosted_zones", "HostedZones"):
        zone_id = zone["Id"].rsplit("/", 1)[-1]
        tags = from_aws(
            aws.call("route53", "list_tags_for_resource", ResourceType="hostedzone", ResourceId=zone_id)[
                "ResourceTagSet"
            ].get("Tags")
        )
        arn = f"arn:aws:route53:::hostedzone/{zone_id}"
        if is_owned(tags, mine):
            items.append((arn, tags))
        elif MANAGED_BY not in tags and zone.get("CallerReference", "").startswith(f"cloudfauj-{mine}-"):
            # created by us, the server died before it was tagged (see controllers/domain.py)
            name = zone["Name"].rstrip(".")
            items.append((arn, {MANAGED_BY: mine, "cloudfauj:kind": "Domain", "cloudfauj:domain": name}))
    return items


def _discovery_tagged(aws: Gateway) -> list[tuple[str, dict[str, str]]]:
    """Cloud Map namespaces (an environment's) and services (a private app's): AWS's tagging API lists
    them, moto's does not, so they are asked for here (an ARN found twice counts once)."""
    found = []
    namespaces = aws.paginate("servicediscovery", "list_namespaces", "Namespaces")
    services = aws.paginate("servicediscovery", "list_services", "Services") if namespaces else []
    for item in [*namespaces, *services]:
        tags = from_aws(
            aws.call("servicediscovery", "list_tags_for_resource", ResourceARN=item["Arn"]).get("Tags")
        )
        if is_owned(tags, aws.installation_id):
            found.append((str(item["Arn"]), tags))
    return found


def _deleted(aws: Gateway, arn: str) -> bool:
    """ECS keeps deleted clusters and services, and deregistered task definitions, describable."""
    if resource_type(arn).split(":")[0] != "ecs":  # a Cloud Map `:service/` is not an ECS service
        return False
    try:
        if ":task-definition/" in arn:
            td = aws.call("ecs", "describe_task_definition", taskDefinition=arn)["taskDefinition"]
            return bool(td.get("status") != "ACTIVE")
        if ":cluster/" in arn:
            clusters = aws.call("ecs", "describe_clusters", clusters=[arn])["clusters"]
            return not clusters or clusters[0].get("status") != "ACTIVE"
        if ":service/" in arn:
            cluster = arn.split("/")[-2]
            services = aws.call("ecs", "describe_services", cluster=cluster, services=[arn])["services"]
            return not services or services[0].get("status") != "ACTIVE"
    except AwsError as e:
        if e.code in ("ClientException", "ClusterNotFoundException", "ServiceNotFoundException"):
            return True
        raise
    return False


class GarbageCollector:
    """Deletes the orphans of the owners listed in its record's spec (what `cloudfauj gc` showed)."""

    kind = GC_KIND
    objectless = True  # the reactor runs its records against a stand-in object (no stored object)

    def __init__(self, controllers: dict[str, Controller]) -> None:
        self.controllers = controllers

    def plan(self, ctx: Context) -> list[Change]:
        return [Change(f"{o.type} {o.arn}", "delete") for o in find_orphans(ctx.aws, _live(ctx))]

    def reconcile(self, ctx: Context) -> Result:
        orphans = [Orphan.from_dict(o) for o in ctx.obj.spec.get("orphans", [])]
        owners = sorted({o.owner for o in orphans}, key=Owner.sort_key)
        live = _live(ctx)
        for owner in owners:
            # Checked again just before acting: an object applied since the request owns them now.
            if live(owner):
                continue
            result = self.controllers[owner.kind].finalize(_owner_context(ctx, owner))
            if isinstance(result, Wait):
                return result
        left = [o for o in find_orphans(ctx.aws, live) if o.owner in owners]
        if not left:
            return Done(message=f"Deleted the orphaned resources of {len(owners)} owner(s).")
        arns = sorted(o.arn for o in left)
        if ctx.progress.get(LEFT) == arns:
            raise PermanentError(
                f"{len(arns)} orphaned resource(s) could not be deleted: {', '.join(arns)}; "
                "delete them by hand (they carry our tags), or run `cloudfauj gc` again."
            )
        ctx.progress[LEFT] = arns  # a teardown pass removes one of each (e.g. of duplicate VPCs)
        return Wait(f"{len(arns)} orphaned resource(s) left after a pass; deleting again.", delay=1)

    def finalize(self, ctx: Context) -> Result:
        return Done(message="Garbage collection has no object to delete.")


def _live(ctx: Context) -> Callable[[Owner], bool]:
    return lambda o: ctx.lookup(o.kind, o.env, o.name) is not None


def _standin(
    kind: str, name: str, env: str | None = None, outputs: dict[str, Any] | None = None
) -> StoredObject:
    return StoredObject(
        kind=kind,
        name=name,
        env=env,
        spec={},
        generation=0,
        created_at="",
        updated_at="",
        status={"outputs": outputs or {}},
        deleting=True,
    )


def _owner_context(ctx: Context, owner: Owner) -> Context:
    """The gc record's context, for a stand-in of `owner`: what its controller's `finalize` works on.
    An orphaned application whose environment is orphaned too finds that environment's ids in AWS."""

    def lookup(kind: str, env: str | None, name: str) -> StoredObject | None:
        found = ctx.lookup(kind, env, name)
        if found is None and kind == "Environment":
            return _standin("Environment", name, outputs=_observed_environment(ctx, name))
        return found

    obj = _standin(owner.kind, owner.name, owner.env)
    return replace(ctx, obj=obj, lookup=lookup, dependents=lambda: [])


def _observed_environment(ctx: Context, env: str) -> dict[str, Any]:
    """The outputs an application's teardown needs of an environment the store no longer has."""
    ectx = replace(ctx, obj=_standin("Environment", env))
    state: dict[str, Any] = {}
    Vpc().observe(ectx, state)
    Cluster().observe(ectx, state)
    outputs: dict[str, Any] = {"vpc_id": state.get("vpc_id"), "cluster_arn": state.get("cluster_arn")}
    balancing = LoadBalancing().observe(ectx, state)
    certificate = (balancing["listeners"].get(443) or {}).get("certificate")
    if certificate:  # the domain is the one of the HTTPS listener's certificate; apps' rules use it
        domain = ctx.aws.call("acm", "describe_certificate", CertificateArn=certificate)["Certificate"][
            "DomainName"
        ]
        outputs.update(LoadBalancing().outputs(balancing), domain=domain, zone_id=_zone_of(ctx, domain))
    return outputs


def _zone_of(ctx: Context, domain: str) -> str | None:
    zones = ctx.aws.call("route53", "list_hosted_zones_by_name", DNSName=domain)["HostedZones"]
    for zone in zones:
        if zone["Name"].rstrip(".") != domain:
            continue
        zone_id = str(zone["Id"]).rsplit("/", 1)[-1]
        tag_set = ctx.aws.call(
            "route53", "list_tags_for_resource", ResourceType="hostedzone", ResourceId=zone_id
        )["ResourceTagSet"]
        if is_owned(from_aws(tag_set.get("Tags")), ctx.installation_id):
            return zone_id
    return None
