"""An environment's network: VPC, internet gateway, public subnets in distinct AZs, public route table.

Each sub-resource is found by our ownership tags before anything is created (moto, unlike AWS, happily
creates duplicates), created with its tags in the same call (TagSpecifications, so a crash can never
leave an untagged resource behind), and deleted only when it carries our tags.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

from cloudfauj.aws import AwsError, as_ec2, from_aws
from cloudfauj.errors import PermanentError, TemporaryError
from controllers import naming
from controllers.base import Change, Context
from controllers.idempotency import client_token

__all__ = ["InternetGateway", "RouteTable", "Subnets", "Vpc", "allocate_cidr"]

SUBNET_COUNT = 2
_ALLOCATION = threading.Lock()  # two environments created at once must not pick the same /16


def _owner_filters(ctx: Context, **extra: str) -> list[dict[str, Any]]:
    filters = [
        {"Name": "tag:cloudfauj:managed-by", "Values": [ctx.installation_id]},
        {"Name": "tag:cloudfauj:env", "Values": [ctx.obj.name]},
    ]
    filters += [{"Name": k, "Values": [v]} for k, v in extra.items()]
    return filters


def _spec(ctx: Context, resource_type: str, what: str) -> list[dict[str, Any]]:
    tags = as_ec2(ctx.aws.tags("Environment", env=ctx.obj.name), name=naming.env_resource(ctx.obj.name, what))
    return [{"ResourceType": resource_type, "Tags": tags}]


def allocate_cidr(existing: list[str]) -> str:
    """The first free 10.N.0.0/16 (upstream's allocator failed whenever a VPC lay outside 10/8)."""
    ten = ipaddress.ip_network("10.0.0.0/8")
    taken = [ipaddress.ip_network(c) for c in existing]
    taken = [n for n in taken if n.version == 4 and n.overlaps(ten)]
    for n in range(256):
        candidate = ipaddress.ip_network(f"10.{n}.0.0/16")
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    raise PermanentError("No free 10.N.0.0/16 range is left for a new VPC in this account and region.")


class Vpc:
    name = "vpc"

    def observe(self, ctx: Context, state: dict[str, Any]) -> dict[str, Any] | None:
        vpcs = ctx.aws.paginate("ec2", "describe_vpcs", "Vpcs", Filters=_owner_filters(ctx))
        if not vpcs:
            return None
        vpc = sorted(vpcs, key=lambda v: v["VpcId"])[0]
        attrs = {
            attr: ctx.aws.call("ec2", "describe_vpc_attribute", VpcId=vpc["VpcId"], Attribute=attr)
            for attr in ("enableDnsSupport", "enableDnsHostnames")
        }
        state["vpc_id"], state["vpc_cidr"] = vpc["VpcId"], vpc["CidrBlock"]
        return {
            "id": vpc["VpcId"],
            "cidr": vpc["CidrBlock"],
            "dns_support": attrs["enableDnsSupport"]["EnableDnsSupport"]["Value"],
            "dns_hostnames": attrs["enableDnsHostnames"]["EnableDnsHostnames"]["Value"],
        }

    def diff(self, observed: dict[str, Any] | None) -> list[Change]:
        if observed is None:
            return [Change(self.name, "create")]
        fields = {k: (observed[k], True) for k in ("dns_support", "dns_hostnames") if observed[k] is not True}
        return [Change(f"vpc {observed['id']}", "update", fields)] if fields else []

    def create(self, ctx: Context, state: dict[str, Any]) -> None:
        with _ALLOCATION:
            vpcs = ctx.aws.paginate("ec2", "describe_vpcs", "Vpcs")
            cidrs = [a["CidrBlock"] for v in vpcs for a in v.get("CidrBlockAssociationSet", [])]
            cidr = allocate_cidr(cidrs + [v["CidrBlock"] for v in vpcs])
            vpc = ctx.mutate(
                "ec2",
                "create_vpc",
                resource=f"vpc {cidr}",
                CidrBlock=cidr,
                TagSpecifications=_spec(ctx, "vpc", "vpc"),
            )["Vpc"]
        state["vpc_id"], state["vpc_cidr"] = vpc["VpcId"], cidr
        self.update(ctx, state)

    def update(self, ctx: Context, state: dict[str, Any]) -> None:
        for attr in ("EnableDnsSupport", "EnableDnsHostnames"):  # AWS takes one attribute per call
            ctx.mutate(
                "ec2",
                "modify_vpc_attribute",
                resource=f"vpc {state['vpc_id']}",
                VpcId=state["vpc_id"],
                **{attr: {"Value": True}},
            )

    def delete(self, ctx: Context, observed: dict[str, Any]) -> None:
        vpc_id = observed["id"]
        for sg in ctx.aws.paginate(
            "ec2",
            "describe_security_groups",
            "SecurityGroups",
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}],
        ):
            if sg["GroupName"] == "default":
                continue
            if from_aws(sg.get("Tags")).get("cloudfauj:managed-by") != ctx.installation_id:
                raise PermanentError(
                    f"VPC {vpc_id} still holds security group {sg['GroupId']} that Cloudfauj does not own; "
                    "delete it by hand, then delete the environment again."
                )
        _delete_ec2(ctx, "delete_vpc", f"vpc {vpc_id}", VpcId=vpc_id)


class InternetGateway:
    name = "internet-gateway"

    def observe(self, ctx: Context, state: dict[str, Any]) -> dict[str, Any] | None:
        igws = ctx.aws.paginate(
            "ec2", "describe_internet_gateways", "InternetGateways", Filters=_owner_filters(ctx)
        )
        if not igws:
            return None
        igw = igws[0]
        state["igw_id"] = igw["InternetGatewayId"]
        return {"id": igw["InternetGatewayId"], "vpcs": [a["VpcId"] for a in igw.get("Attachments", [])]}

    def diff(self, observed: dict[str, Any] | None, vpc_id: str | None) -> list[Change]:
        if observed is None:
            return [Change(self.name, "create")]
        if vpc_id not in observed["vpcs"]:
            return [
                Change(
                    f"internet-gateway {observed['id']}", "update", {"attachment": (observed["vpcs"], vpc_id)}
                )
            ]
        return []

    def create(self, ctx: Context, state: dict[str, Any]) -> None:
        igw = ctx.mutate(
            "ec2",
            "create_internet_gateway",
            resource="internet-gateway",
            TagSpecifications=_spec(ctx, "internet-gateway", "igw"),
        )["InternetGateway"]
        state["igw_id"] = igw["InternetGatewayId"]
        self.update(ctx, state)

    def update(self, ctx: Context, state: dict[str, Any]) -> None:
        ctx.mutate(
            "ec2",
            "attach_internet_gateway",
            resource=f"internet-gateway {state['igw_id']}",
            InternetGatewayId=state["igw_id"],
            VpcId=state["vpc_id"],
        )

    def delete(self, ctx: Context, observed: dict[str, Any]) -> None:
        for vpc_id in observed["vpcs"]:
            _delete_ec2(
                ctx,
                "detach_internet_gateway",
                f"internet-gateway {observed['id']}",
                InternetGatewayId=observed["id"],
                VpcId=vpc_id,
            )
        _delete_ec2(
            ctx,
            "delete_internet_gateway",
            f"internet-gateway {observed['id']}",
            InternetGatewayId=observed["id"],
        )


class Subnets:
    """Public subnets, one per AZ, told apart by the `cloudfauj:subnet` tag (their index)."""

    name = "subnets"

    def observe(self, ctx: Context, state: dict[str, Any]) -> dict[int, dict[str, Any]]:
        subnets = ctx.aws.paginate("ec2", "describe_subnets", "Subnets", Filters=_owner_filters(ctx))
        found: dict[int, dict[str, Any]] = {}
        for s in sorted(subnets, key=lambda s: s["SubnetId"]):
            index = from_aws(s.get("Tags")).get("cloudfauj:subnet", "")
            if index.isdigit() and int(index) not in found:
                found[int(index)] = {
                    "id": s["SubnetId"],
                    "az": s["AvailabilityZone"],
                    "public_ip": s.get("MapPublicIpOnLaunch", False),
                }
        state["subnet_ids"] = [found[i]["id"] for i in sorted(found)]
        return found

    def diff(self, observed: dict[int, dict[str, Any]]) -> list[Change]:
        changes = [Change(f"subnet/{i}", "create") for i in range(SUBNET_COUNT) if i not in observed]
        for i, s in sorted(observed.items()):
            if not s["public_ip"]:
                changes.append(
                    Change(f"subnet/{i} {s['id']}", "update", {"map_public_ip_on_launch": (False, True)})
                )
        return changes

    def apply(self, ctx: Context, state: dict[str, Any], observed: dict[int, dict[str, Any]]) -> None:
        zones = ctx.aws.call(
            "ec2", "describe_availability_zones", Filters=[{"Name": "state", "Values": ["available"]}]
        )["AvailabilityZones"]
        names = sorted(
            z["ZoneName"] for z in zones if z.get("ZoneType", "availability-zone") == "availability-zone"
        )
        if len(names) < SUBNET_COUNT:
            raise PermanentError(f"Region {ctx.aws.region} has fewer than {SUBNET_COUNT} availability zones.")
        vpc = ipaddress.ip_network(state["vpc_cidr"])
        blocks = list(vpc.subnets(new_prefix=20))
        for i in range(SUBNET_COUNT):
            if i in observed:
                continue
            spec = _spec(ctx, "subnet", f"public-{i}")
            spec[0]["Tags"].append({"Key": "cloudfauj:subnet", "Value": str(i)})
            subnet = ctx.mutate(
                "ec2",
                "create_subnet",
                resource=f"subnet {blocks[i]}",
                VpcId=state["vpc_id"],
                CidrBlock=str(blocks[i]),
                AvailabilityZone=names[i],
                TagSpecifications=spec,
            )["Subnet"]
            observed[i] = {"id": subnet["SubnetId"], "az": names[i], "public_ip": False}
        for s in observed.values():
            if not s["public_ip"]:
                ctx.mutate(
                    "ec2",
                    "modify_subnet_attribute",
                    resource=f"subnet {s['id']}",
                    SubnetId=s["id"],
                    MapPublicIpOnLaunch={"Value": True},
                )
        state["subnet_ids"] = [observed[i]["id"] for i in sorted(observed)]

    def delete(self, ctx: Context, observed: dict[int, dict[str, Any]]) -> None:
        for s in observed.values():
            _delete_ec2(ctx, "delete_subnet", f"subnet {s['id']}", SubnetId=s["id"])


class RouteTable:
    """A public route table of our own (default route to the gateway), associated with every subnet."""

    name = "route-table"

    def observe(self, ctx: Context, state: dict[str, Any]) -> dict[str, Any] | None:
        tables = ctx.aws.paginate("ec2", "describe_route_tables", "RouteTables", Filters=_owner_filters(ctx))
        if not tables:
            return None
        table = tables[0]
        default = [
            r.get("GatewayId")
            for r in table.get("Routes", [])
            if r.get("DestinationCidrBlock") == "0.0.0.0/0"
        ]
        return {
            "id": table["RouteTableId"],
            "default_route": default[0] if default else None,
            "subnets": sorted(a["SubnetId"] for a in table.get("Associations", []) if a.get("SubnetId")),
        }

    def diff(
        self, observed: dict[str, Any] | None, igw_id: str | None, subnet_ids: list[str]
    ) -> list[Change]:
        if observed is None:
            return [Change(self.name, "create")]
        fields: dict[str, tuple[Any, Any]] = {}
        if observed["default_route"] != igw_id:
            fields["routes.0.0.0.0/0"] = (observed["default_route"], igw_id)
        if not set(subnet_ids) <= set(observed["subnets"]):
            fields["associations"] = (observed["subnets"], sorted(subnet_ids))
        return [Change(f"route-table {observed['id']}", "update", fields)] if fields else []

    def apply(self, ctx: Context, state: dict[str, Any], observed: dict[str, Any] | None) -> None:
        if observed is None:
            table = ctx.mutate(
                "ec2",
                "create_route_table",
                resource="route-table",
                VpcId=state["vpc_id"],
                ClientToken=client_token(ctx, "route-table"),
                TagSpecifications=_spec(ctx, "route-table", "public"),
            )["RouteTable"]
            observed = {"id": table["RouteTableId"], "default_route": None, "subnets": []}
        rt = observed["id"]
        if observed["default_route"] is None:
            ctx.mutate(
                "ec2",
                "create_route",
                resource=f"route-table {rt}",
                RouteTableId=rt,
                DestinationCidrBlock="0.0.0.0/0",
                GatewayId=state["igw_id"],
            )
        elif observed["default_route"] != state["igw_id"]:
            ctx.mutate(
                "ec2",
                "replace_route",
                resource=f"route-table {rt}",
                RouteTableId=rt,
                DestinationCidrBlock="0.0.0.0/0",
                GatewayId=state["igw_id"],
            )
        for subnet in state["subnet_ids"]:
            if subnet not in observed["subnets"]:
                ctx.mutate(
                    "ec2",
                    "associate_route_table",
                    resource=f"route-table {rt}",
                    RouteTableId=rt,
                    SubnetId=subnet,
                )

    def delete(self, ctx: Context, observed: dict[str, Any]) -> None:
        table = ctx.aws.call("ec2", "describe_route_tables", RouteTableIds=[observed["id"]])["RouteTables"][0]
        for assoc in table.get("Associations", []):
            if not assoc.get("Main"):
                _delete_ec2(
                    ctx,
                    "disassociate_route_table",
                    f"route-table {observed['id']}",
                    AssociationId=assoc["RouteTableAssociationId"],
                )
        _delete_ec2(ctx, "delete_route_table", f"route-table {observed['id']}", RouteTableId=observed["id"])


_GONE = ("NotFound", "InvalidAssociationID.NotFound", "Gateway.NotAttached")


def _delete_ec2(ctx: Context, operation: str, resource: str, **params: Any) -> None:
    """A deleting EC2 call: already gone is fine; still in use means wait (ENIs drain slowly in AWS)."""
    try:
        ctx.mutate("ec2", operation, resource=resource, **params)
    except AwsError as e:
        if e.code.endswith(_GONE):
            return
        if e.code == "DependencyViolation":
            raise TemporaryError(
                f"{resource} is still in use; waiting for AWS to release it.", delay=5
            ) from e
        raise
