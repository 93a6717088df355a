"""How an application in an environment with a domain is reached: a target group, a host-header rule on the
environment's HTTPS listener, and a Route53 alias record `<env>-<app>.<domain>` to the load balancer.

Rule priorities are chosen deterministically from the app's name, moving to the next free one on a clash,
so two apps never fight over a priority and re-running picks the same one. Route53 changes are UPSERTs
of exactly our record (moto, unlike AWS, duplicates a repeated CREATE).
"""

from __future__ import annotations

import zlib
from typing import Any

from cloudfauj.aws import AwsError, as_ec2, from_aws, is_owned
from cloudfauj.errors import PermanentError, TemporaryError
from controllers import naming
from controllers.base import Change, Context

__all__ = ["Routing"]

PRIORITIES = 50000
DEREGISTRATION_DELAY = "60"
DEREGISTRATION_KEY = "deregistration_delay.timeout_seconds"


def _tags(ctx: Context) -> dict[str, str]:
    return ctx.aws.tags("Application", env=ctx.obj.env, app=ctx.obj.name)


def hostname(ctx: Context, env: dict[str, Any]) -> str:
    return naming.hostname(ctx.obj.env or "", ctx.obj.name, env["domain"])


def preferred_priority(app: str, env: str) -> int:
    return zlib.crc32(f"{env}/{app}".encode()) % PRIORITIES + 1


class Routing:
    name = "routing"

    # -- observe ---------------------------------------------------------------------------------
    def observe(self, ctx: Context, env: dict[str, Any]) -> dict[str, Any]:
        return {"tg": self._target_group(ctx), "rule": self._rule(ctx, env), "record": self._record(ctx, env)}

    def _target_group(self, ctx: Context) -> dict[str, Any] | None:
        name = naming.target_group(ctx.installation_id, ctx.obj.env or "", ctx.obj.name)
        try:
            tg = ctx.aws.call("elbv2", "describe_target_groups", Names=[name])["TargetGroups"][0]
        except AwsError as e:
            if e.code == "TargetGroupNotFound":
                return None
            raise
        tags = ctx.aws.call("elbv2", "describe_tags", ResourceArns=[tg["TargetGroupArn"]])["TagDescriptions"]
        if not is_owned(from_aws(tags[0]["Tags"] if tags else []), ctx.installation_id):
            raise PermanentError(
                f"Target group {name} exists but is not managed by this Cloudfauj installation."
            )
        # The deregistration delay is set by a second call after the create: observing it means a server
        # killed between the two finishes the job on its next attempt (and a change by hand is drift).
        attributes = ctx.aws.call(
            "elbv2", "describe_target_group_attributes", TargetGroupArn=tg["TargetGroupArn"]
        )["Attributes"]
        delay = next((a["Value"] for a in attributes if a["Key"] == DEREGISTRATION_KEY), None)
        return {
            "arn": tg["TargetGroupArn"],
            "port": tg.get("Port"),
            "path": tg.get("HealthCheckPath"),
            "delay": delay,
        }

    def _rule(self, ctx: Context, env: dict[str, Any]) -> dict[str, Any] | None:
        host = hostname(ctx, env)
        for rule in self._rules(ctx, env):
            hosts = [
                v
                for c in rule.get("Conditions", [])
                if c.get("Field") == "host-header"
                for v in c.get("HostHeaderConfig", {}).get("Values", c.get("Values", []))
            ]
            if host in hosts:
                forward = [
                    a.get("TargetGroupArn") for a in rule.get("Actions", []) if a.get("Type") == "forward"
                ]
                return {
                    "arn": rule["RuleArn"],
                    "priority": rule["Priority"],
                    "target": forward[0] if forward else None,
                }
        return None

    @staticmethod
    def _rules(ctx: Context, env: dict[str, Any]) -> list[dict[str, Any]]:
        return list(
            ctx.aws.paginate("elbv2", "describe_rules", "Rules", ListenerArn=env["https_listener_arn"])
        )

    def _record(self, ctx: Context, env: dict[str, Any]) -> dict[str, Any] | None:
        host = hostname(ctx, env) + "."
        found = ctx.aws.call(
            "route53",
            "list_resource_record_sets",
            HostedZoneId=env["zone_id"],
            StartRecordName=host,
            StartRecordType="A",
            MaxItems="1",
        )["ResourceRecordSets"]
        if not found or found[0]["Name"] != host or found[0]["Type"] != "A":
            return None
        return {"set": found[0], "target": found[0].get("AliasTarget", {}).get("DNSName", "").rstrip(".")}

    # -- diff ------------------------------------------------------------------------------------
    @staticmethod
    def diff(ctx: Context, env: dict[str, Any], observed: dict[str, Any]) -> list[Change]:
        spec = ctx.obj.spec
        changes: list[Change] = []
        tg = observed["tg"]
        path = spec["healthcheck"]["path"]
        if tg is None:
            changes.append(Change("target-group", "create", {"health_check_path": (None, path)}))
        else:
            fields = {
                k: (old, new)
                for k, old, new in (
                    ("health_check_path", tg["path"], path),
                    ("deregistration_delay", tg.get("delay"), DEREGISTRATION_DELAY),
                )
                if old != new
            }
            if fields:
                changes.append(Change(f"target-group {tg['arn']}", "update", fields))
        rule = observed["rule"]
        if rule is None:
            changes.append(Change("listener-rule", "create", {"host": (None, hostname(ctx, env))}))
        elif tg is not None and rule["target"] != tg["arn"]:
            changes.append(
                Change(f"listener-rule {rule['arn']}", "update", {"forward": (rule["target"], tg["arn"])})
            )
        alb = f"dualstack.{env['alb_dns_name']}".lower()
        record = observed["record"]
        if record is None or record["target"].lower() != alb:
            old = record["target"] if record else None
            changes.append(
                Change(
                    f"dns-record {hostname(ctx, env)}",
                    "create" if old is None else "update",
                    {"alias": (old, alb)},
                )
            )
        return changes

    # -- act -------------------------------------------------------------------------------------
    def apply(self, ctx: Context, env: dict[str, Any], observed: dict[str, Any]) -> str:
        """Converge the three parts; return the target group's ARN."""
        spec = ctx.obj.spec
        tg = observed["tg"]
        path = spec["healthcheck"]["path"]
        if tg is None:
            name = naming.target_group(ctx.installation_id, ctx.obj.env or "", ctx.obj.name)
            arn = ctx.mutate(
                "elbv2",
                "create_target_group",
                resource=f"target-group {name}",
                Name=name,
                Protocol="HTTP",
                Port=spec["resources"]["network"]["bind_port"],
                VpcId=env["vpc_id"],
                TargetType="ip",
                HealthCheckPath=path,
                HealthCheckProtocol="HTTP",
                Matcher={"HttpCode": "200-399"},
                Tags=as_ec2(_tags(ctx)),
            )["TargetGroups"][0]["TargetGroupArn"]
            tg = {"arn": arn, "path": path, "delay": None}
        if tg["path"] != path:
            ctx.mutate(
                "elbv2",
                "modify_target_group",
                resource=f"target-group {tg['arn']}",
                TargetGroupArn=tg["arn"],
                HealthCheckPath=path,
            )
        if tg.get("delay") != DEREGISTRATION_DELAY:
            ctx.mutate(
                "elbv2",
                "modify_target_group_attributes",
                resource=f"target-group {tg['arn']}",
                TargetGroupArn=tg["arn"],
                Attributes=[{"Key": DEREGISTRATION_KEY, "Value": DEREGISTRATION_DELAY}],
            )
        rule = observed["rule"]
        forward = [{"Type": "forward", "TargetGroupArn": tg["arn"]}]
        if rule is None:
            ctx.mutate(
                "elbv2",
                "create_rule",
                resource=f"listener-rule {hostname(ctx, env)}",
                ListenerArn=env["https_listener_arn"],
                Priority=self._free_priority(ctx, env),
                Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [hostname(ctx, env)]}}],
                Actions=forward,
                Tags=as_ec2(_tags(ctx)),
            )
        elif rule["target"] != tg["arn"]:
            ctx.mutate(
                "elbv2",
                "modify_rule",
                resource=f"listener-rule {rule['arn']}",
                RuleArn=rule["arn"],
                Actions=forward,
            )
        self._upsert_record(ctx, env)
        return str(tg["arn"])

    def _free_priority(self, ctx: Context, env: dict[str, Any]) -> int:
        taken = {int(r["Priority"]) for r in self._rules(ctx, env) if str(r["Priority"]).isdigit()}
        priority = preferred_priority(ctx.obj.name, ctx.obj.env or "")
        while priority in taken:
            priority = priority % PRIORITIES + 1
        return priority

    def _upsert_record(self, ctx: Context, env: dict[str, Any]) -> None:
        host = hostname(ctx, env)
        ctx.mutate(
            "route53",
            "change_resource_record_sets",
            resource=f"dns-record {host}",
            HostedZoneId=env["zone_id"],
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": host,
                            "Type": "A",
                            "AliasTarget": {
                                "HostedZoneId": env["alb_zone_id"],
                                "DNSName": f"dualstack.{env['alb_dns_name']}",
                                "EvaluateTargetHealth": True,
                            },
                        },
                    }
                ]
            },
        )

    def delete(self, ctx: Context, env: dict[str, Any]) -> None:
        """Record, rule, then target group (after the service let go of it)."""
        if env.get("zone_id"):
            record = self._record(ctx, env)
            if record is not None:
                self._delete_record(ctx, env, record)
        if env.get("https_listener_arn"):
            rule = self._rule(ctx, env)
            if rule is not None:
                ctx.mutate(
                    "elbv2", "delete_rule", resource=f"listener-rule {rule['arn']}", RuleArn=rule["arn"]
                )
        tg = self._target_group(ctx)
        if tg is not None:
            self._delete_target_group(ctx, tg)

    def _delete_record(self, ctx: Context, where: dict[str, Any], record: dict[str, Any]) -> None:
        ctx.mutate(
            "route53",
            "change_resource_record_sets",
            resource=f"dns-record {hostname(ctx, where)}",
            HostedZoneId=where["zone_id"],
            ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": record["set"]}]},
        )

    @staticmethod
    def _delete_target_group(ctx: Context, tg: dict[str, Any]) -> None:
        try:
            ctx.mutate(
                "elbv2", "delete_target_group", resource=f"target-group {tg['arn']}", TargetGroupArn=tg["arn"]
            )
        except AwsError as e:
            if e.code == "ResourceInUse":
                raise TemporaryError("The target group is still in use; waiting.", delay=5) from e
            if e.code != "TargetGroupNotFound":
                raise

    # -- leftovers of an earlier routing -----------------------------------------------------------
    def leftovers(self, ctx: Context, env: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
        """What the app's earlier routing left that the environment no longer has: the target group once
        the environment lost its load balancer, the DNS record once it lost (or changed) its domain. The
        rule went with the load balancer's listener. `previous` is the app's last outputs."""
        found: dict[str, Any] = {}
        if not env.get("https_listener_arn"):
            found["tg"] = self._target_group(ctx)
        old = {"zone_id": previous.get("zone_id"), "domain": previous.get("domain")}
        if old["zone_id"] and old["domain"] and old != {k: env.get(k) for k in old}:
            try:
                record = self._record(ctx, old)
            except AwsError as e:
                if e.code != "NoSuchHostedZone":  # the domain went too, and its zone with it
                    raise
                record = None
            if record is not None:
                found["record"] = {**record, **old}
        return {k: v for k, v in found.items() if v is not None}

    @staticmethod
    def diff_leftovers(ctx: Context, leftovers: dict[str, Any]) -> list[Change]:
        changes = []
        if "record" in leftovers:
            changes.append(Change(f"dns-record {hostname(ctx, leftovers['record'])}", "delete"))
        if "tg" in leftovers:
            changes.append(Change(f"target-group {leftovers['tg']['arn']}", "delete"))
        return changes

    def delete_leftovers(self, ctx: Context, leftovers: dict[str, Any]) -> None:
        if "record" in leftovers:
            self._delete_record(ctx, leftovers["record"], leftovers["record"])
        if "tg" in leftovers:
            self._delete_target_group(ctx, leftovers["tg"])

    # -- health ----------------------------------------------------------------------------------
    @staticmethod
    def health(ctx: Context, tg_arn: str) -> dict[str, int]:
        """How many targets are in each state (healthy, initial, unhealthy, draining, ...)."""
        counts: dict[str, int] = {}
        for target in ctx.aws.call("elbv2", "describe_target_health", TargetGroupArn=tg_arn)[
            "TargetHealthDescriptions"
        ]:
            state = target.get("TargetHealth", {}).get("State", "unknown")
            counts[state] = counts.get(state, 0) + 1
        return counts
