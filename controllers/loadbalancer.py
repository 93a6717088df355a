"""An environment's HTTPS entry point, when it has a domain: ALB security group, internet-facing ALB,
an HTTPS:443 listener (TLS 1.2+, the domain's certificate, a fixed 503 by default) and an HTTP:80
listener that redirects to HTTPS (upstream had none).

Everything is found by our tags (or by the ALB's listeners) before it is created; moto accepts a second
ALB of the same name and a second listener on one port, AWS does not, so looking first matters twice.
"""

from __future__ import annotations

from typing import Any

from cloudfauj.aws import AwsError, as_ec2, from_aws, is_owned
from cloudfauj.errors import PermanentError, TemporaryError
from controllers import naming
from controllers.base import Change, Context

__all__ = ["LoadBalancing", "domain_outputs"]

SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
NOT_FOUND = {
    "type": "fixed-response",
    "FixedResponseConfig": {
        "StatusCode": "503",
        "ContentType": "text/plain",
        "MessageBody": "Service Unavailable",
    },
}
REDIRECT = {
    "type": "redirect",
    "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
}


def domain_outputs(ctx: Context, domain: str) -> dict[str, Any]:
    """The domain's outputs once its certificate is issued; wait (bounded by the deadline) until then."""
    obj = ctx.lookup("Domain", None, domain)
    if obj is None or obj.deleting:
        raise PermanentError(f"Domain '{domain}' does not exist (or is being deleted); add it first.")
    outputs: dict[str, Any] = obj.status.get("outputs", {})
    if outputs.get("certificate_status") != "ISSUED" or not outputs.get("zone_id"):
        status = outputs.get("certificate_status") or "not requested yet"
        raise TemporaryError(
            f"Waiting for domain '{domain}': its certificate is {status}; the registrar must delegate the "
            f"domain to the zone's name servers ({', '.join(outputs.get('name_servers', [])) or 'pending'}).",
            delay=5,
        )
    return outputs


def _tags(ctx: Context) -> dict[str, str]:
    return ctx.aws.tags("Environment", env=ctx.obj.name)


class LoadBalancing:
    """The four parts as one sub-resource: they are created and removed together, in this order."""

    name = "load-balancer"

    def observe(self, ctx: Context, state: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = {"sg": None, "alb": None, "listeners": {}}
        if state.get("vpc_id"):
            groups = ctx.aws.paginate(
                "ec2",
                "describe_security_groups",
                "SecurityGroups",
                Filters=[
                    {"Name": "vpc-id", "Values": [state["vpc_id"]]},
                    {"Name": "tag:cloudfauj:managed-by", "Values": [ctx.installation_id]},
                    {"Name": "tag:cloudfauj:env", "Values": [ctx.obj.name]},
                    {"Name": "tag:cloudfauj:role", "Values": ["load-balancer"]},
                ],
            )
            if groups:
                sg = groups[0]
                ports = sorted(p.get("FromPort") for p in sg.get("IpPermissions", []))
                found["sg"] = {"id": sg["GroupId"], "ports": ports}
        found["alb"] = self._alb(ctx)
        if found["alb"]:
            for listener in ctx.aws.paginate(
                "elbv2", "describe_listeners", "Listeners", LoadBalancerArn=found["alb"]["arn"]
            ):
                found["listeners"][listener["Port"]] = {
                    "arn": listener["ListenerArn"],
                    "protocol": listener["Protocol"],
                    "certificate": (listener.get("Certificates") or [{}])[0].get("CertificateArn"),
                    "policy": listener.get("SslPolicy"),
                    "action": (listener.get("DefaultActions") or [{}])[0].get("Type"),
                }
        return found

    def _alb(self, ctx: Context) -> dict[str, Any] | None:
        name = naming.load_balancer(ctx.installation_id, ctx.obj.name)
        try:
            albs = ctx.aws.call("elbv2", "describe_load_balancers", Names=[name])["LoadBalancers"]
        except AwsError as e:
            if e.code == "LoadBalancerNotFound":
                return None
            raise
        alb = albs[0]
        tags = ctx.aws.call("elbv2", "describe_tags", ResourceArns=[alb["LoadBalancerArn"]])[
            "TagDescriptions"
        ]
        if not is_owned(from_aws(tags[0]["Tags"] if tags else []), ctx.installation_id):
            raise PermanentError(
                f"Load balancer {name} exists but is not managed by this Cloudfauj installation."
            )
        return {
            "arn": alb["LoadBalancerArn"],
            "dns": alb["DNSName"],
            "zone_id": alb["CanonicalHostedZoneId"],
            "subnets": sorted(z["SubnetId"] for z in alb.get("AvailabilityZones", [])),
        }

    @staticmethod
    def diff(observed: dict[str, Any], certificate: str) -> list[Change]:
        changes: list[Change] = []
        if observed["sg"] is None:
            changes.append(Change("load-balancer security-group", "create", {"ingress": (None, [80, 443])}))
        elif observed["sg"]["ports"] != [80, 443]:
            changes.append(
                Change(
                    f"security-group {observed['sg']['id']}",
                    "update",
                    {"ingress": (observed["sg"]["ports"], [80, 443])},
                )
            )
        if observed["alb"] is None:
            changes.append(Change("load-balancer", "create"))
        https = observed["listeners"].get(443)
        desired = {
            "protocol": "HTTPS",
            "certificate": certificate,
            "policy": SSL_POLICY,
            "action": "fixed-response",
        }
        if https is None:
            changes.append(Change("listener https:443", "create", {k: (None, v) for k, v in desired.items()}))
        elif fields := {k: (https[k], v) for k, v in desired.items() if https[k] != v}:
            changes.append(Change(f"listener {https['arn']}", "update", fields))
        http = observed["listeners"].get(80)
        if http is None:
            changes.append(Change("listener http:80", "create", {"action": (None, "redirect")}))
        elif http["action"] != "redirect":
            changes.append(
                Change(f"listener {http['arn']}", "update", {"action": (http["action"], "redirect")})
            )
        return changes

    def apply(self, ctx: Context, state: dict[str, Any], observed: dict[str, Any], certificate: str) -> None:
        sg = observed["sg"]
        if sg is None:
            name = f"{naming.load_balancer(ctx.installation_id, ctx.obj.name)}-alb"
            tags = as_ec2({**_tags(ctx), "cloudfauj:role": "load-balancer"}, name=name)
            sg_id = ctx.mutate(
                "ec2",
                "create_security_group",
                resource=f"security-group {name}",
                GroupName=name,
                Description=f"Cloudfauj load balancer of environment {ctx.obj.name}",
                VpcId=state["vpc_id"],
                TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
            )["GroupId"]
            sg = {"id": sg_id, "ports": []}
        missing = [p for p in (80, 443) if p not in sg["ports"]]
        if missing:
            ctx.mutate(
                "ec2",
                "authorize_security_group_ingress",
                resource=f"security-group {sg['id']}",
                GroupId=sg["id"],
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": p,
                        "ToPort": p,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "web"}],
                    }
                    for p in missing
                ],
            )
        alb = observed["alb"]
        if alb is None:
            name = naming.load_balancer(ctx.installation_id, ctx.obj.name)
            created = ctx.mutate(
                "elbv2",
                "create_load_balancer",
                resource=f"load-balancer {name}",
                Name=name,
                Subnets=state["subnet_ids"],
                SecurityGroups=[sg["id"]],
                Scheme="internet-facing",
                Type="application",
                IpAddressType="ipv4",
                Tags=as_ec2(_tags(ctx)),
            )["LoadBalancers"][0]
            alb = {"arn": created["LoadBalancerArn"]}
        self._listeners(ctx, alb["arn"], observed["listeners"], certificate)

    def _listeners(self, ctx: Context, alb: str, listeners: dict[int, Any], certificate: str) -> None:
        https, http = listeners.get(443), listeners.get(80)
        if https is None:
            ctx.mutate(
                "elbv2",
                "create_listener",
                resource="listener https:443",
                LoadBalancerArn=alb,
                Protocol="HTTPS",
                Port=443,
                SslPolicy=SSL_POLICY,
                Certificates=[{"CertificateArn": certificate}],
                DefaultActions=[
                    {"Type": NOT_FOUND["type"], "FixedResponseConfig": NOT_FOUND["FixedResponseConfig"]}
                ],
                Tags=as_ec2(_tags(ctx)),
            )
        elif (https["certificate"], https["policy"], https["action"]) != (
            certificate,
            SSL_POLICY,
            "fixed-response",
        ):
            ctx.mutate(
                "elbv2",
                "modify_listener",
                resource=f"listener {https['arn']}",
                ListenerArn=https["arn"],
                Protocol="HTTPS",
                Port=443,
                SslPolicy=SSL_POLICY,
                Certificates=[{"CertificateArn": certificate}],
                DefaultActions=[
                    {"Type": NOT_FOUND["type"], "FixedResponseConfig": NOT_FOUND["FixedResponseConfig"]}
                ],
            )
        redirect = [{"Type": REDIRECT["type"], "RedirectConfig": REDIRECT["RedirectConfig"]}]
        if http is None:
            ctx.mutate(
                "elbv2",
                "create_listener",
                resource="listener http:80",
                LoadBalancerArn=alb,
                Protocol="HTTP",
                Port=80,
                DefaultActions=redirect,
                Tags=as_ec2(_tags(ctx)),
            )
        elif http["action"] != "redirect":
            ctx.mutate(
                "elbv2",
                "modify_listener",
                resource=f"listener {http['arn']}",
                ListenerArn=http["arn"],
                DefaultActions=redirect,
            )

    def outputs(self, observed: dict[str, Any]) -> dict[str, Any]:
        alb, https = observed["alb"] or {}, observed["listeners"].get(443) or {}
        return {
            "alb_arn": alb.get("arn"),
            "alb_dns_name": alb.get("dns"),
            "alb_zone_id": alb.get("zone_id"),
            "alb_security_group_id": (observed["sg"] or {}).get("id"),
            "https_listener_arn": https.get("arn"),
        }

    def delete(self, ctx: Context, observed: dict[str, Any]) -> None:
        if observed["alb"] is not None:
            for listener in observed["listeners"].values():
                ctx.mutate(
                    "elbv2",
                    "delete_listener",
                    resource=f"listener {listener['arn']}",
                    ListenerArn=listener["arn"],
                )
            ctx.mutate(
                "elbv2",
                "delete_load_balancer",
                resource=f"load-balancer {observed['alb']['arn']}",
                LoadBalancerArn=observed["alb"]["arn"],
            )
        if observed["sg"] is not None:
            self._release_references(ctx, observed["sg"]["id"])
            try:
                ctx.mutate(
                    "ec2",
                    "delete_security_group",
                    resource=f"security-group {observed['sg']['id']}",
                    GroupId=observed["sg"]["id"],
                )
            except AwsError as e:
                if e.code == "DependencyViolation":
                    raise TemporaryError(
                        "The load balancer is still releasing its network interfaces.", delay=5
                    ) from e
                if not e.code.endswith("NotFound"):
                    raise

    @staticmethod
    def _release_references(ctx: Context, group_id: str) -> None:
        """Revoke the rules of our own groups (the apps' ones) that admit the load balancer's group: AWS
        refuses to delete a group another group's rule refers to, and the apps open their port to the
        world again when they next converge without a load balancer."""
        groups = ctx.aws.paginate(
            "ec2",
            "describe_security_groups",
            "SecurityGroups",
            Filters=[{"Name": "tag:cloudfauj:managed-by", "Values": [ctx.installation_id]}],
        )
        for group in groups:
            if group["GroupId"] == group_id:
                continue
            referring = [
                {
                    **{k: p[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in p},
                    "UserIdGroupPairs": pairs,
                }
                for p in group.get("IpPermissions", [])
                if (pairs := [g for g in p.get("UserIdGroupPairs", []) if g["GroupId"] == group_id])
            ]
            if referring:
                ctx.mutate(
                    "ec2",
                    "revoke_security_group_ingress",
                    resource=f"security-group {group['GroupId']}",
                    GroupId=group["GroupId"],
                    IpPermissions=referring,
                )
