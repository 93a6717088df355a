"""The Environment controller: network, ECS Fargate cluster, task execution role and log group.

Order is data: `reconcile` walks the sub-resources in dependency order, `finalize` in reverse. The
outputs (VPC, subnets, cluster, role, log group) are what applications in the environment build on.
"""

from __future__ import annotations

import json
from typing import Any

from cloudfauj.aws import AwsError, as_ec2, as_ecs, from_aws, is_owned
from cloudfauj.errors import PermanentError
from controllers import naming
from controllers.base import Change, Context, Done, Result, Wait
from controllers.discovery import delete_namespace
from controllers.loadbalancer import LoadBalancing, domain_outputs
from controllers.network import InternetGateway, RouteTable, Subnets, Vpc

__all__ = ["EnvironmentController"]

EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


class Cluster:
    name = "cluster"

    def observe(self, ctx: Context, state: dict[str, Any]) -> dict[str, Any] | None:
        name = naming.cluster(ctx.installation_id, ctx.obj.name)
        found = ctx.aws.call("ecs", "describe_clusters", clusters=[name], include=["TAGS"])["clusters"]
        active = [c for c in found if c.get("status") == "ACTIVE"]
        if not active:
            return None
        cluster = active[0]
        if not is_owned(from_aws(cluster.get("tags")), ctx.installation_id):
            raise PermanentError(
                f"ECS cluster {name} exists but is not managed by this Cloudfauj installation."
            )
        state["cluster_arn"] = cluster["clusterArn"]
        return {
            "arn": cluster["clusterArn"],
            "capacity_providers": sorted(cluster.get("capacityProviders", [])),
        }

    def diff(self, observed: dict[str, Any] | None) -> list[Change]:
        if observed is None:
            return [Change(self.name, "create")]
        if "FARGATE" not in observed["capacity_providers"]:
            return [
                Change(
                    f"cluster {observed['arn']}",
                    "update",
                    {"capacity_providers": (observed["capacity_providers"], ["FARGATE", "FARGATE_SPOT"])},
                )
            ]
        return []

    def apply(self, ctx: Context, state: dict[str, Any], observed: dict[str, Any] | None) -> None:
        name = naming.cluster(ctx.installation_id, ctx.obj.name)
        strategy = [{"capacityProvider": "FARGATE", "weight": 1}]
        if observed is None:
            cluster = ctx.mutate(
                "ecs",
                "create_cluster",
                resource=f"cluster {name}",
                clusterName=name,
                capacityProviders=["FARGATE", "FARGATE_SPOT"],
                defaultCapacityProviderStrategy=strategy,
                tags=as_ecs(ctx.aws.tags("Environment", env=ctx.obj.name)),
            )["cluster"]
            state["cluster_arn"] = cluster["clusterArn"]
        else:
            ctx.mutate(
                "ecs",
                "put_cluster_capacity_providers",
                resource=f"cluster {name}",
                cluster=name,
                capacityProviders=["FARGATE", "FARGATE_SPOT"],
                defaultCapacityProviderStrategy=strategy,
            )

    def delete(self, ctx: Context, observed: dict[str, Any]) -> None:
        try:
            ctx.mutate(
                "ecs", "delete_cluster", resource=f"cluster {observed['arn']}", cluster=observed["arn"]
            )
        except AwsError as e:
            if e.code != "ClusterNotFoundException":
                raise


class ExecutionRole:
    name = "execution-role"

    def observe(self, ctx: Context, state: dict[str, Any]) -> dict[str, Any] | None:
        name = naming.execution_role(ctx.installation_id, ctx.obj.name)
        # Ownership is checked when we first meet the role; once our status names it, it is ours, and
        # its policies alone tell whether it is still there (NoSuchEntity) and right.
        arn = ctx.obj.status.get("outputs", {}).get("execution_role_arn")
        try:
            if not (isinstance(arn, str) and arn.endswith(f"/{name}")):
                role = ctx.aws.call("iam", "get_role", RoleName=name)["Role"]
                tags = role.get("Tags") or ctx.aws.call("iam", "list_role_tags", RoleName=name).get("Tags")
                if not is_owned(from_aws(tags), ctx.installation_id):
                    raise PermanentError(
                        f"IAM role {name} exists but is not managed by this Cloudfauj installation."
                    )
                arn = role["Arn"]
            attached = ctx.aws.call("iam", "list_attached_role_policies", RoleName=name)["AttachedPolicies"]
        except AwsError as e:
            if e.code == "NoSuchEntity":
                return None
            raise
        state["execution_role_arn"] = arn
        return {"arn": arn, "policies": sorted(p["PolicyArn"] for p in attached)}

    def diff(self, observed: dict[str, Any] | None) -> list[Change]:
        if observed is None:
            return [Change(self.name, "create")]
        if EXECUTION_POLICY not in observed["policies"]:
            return [
                Change(
                    f"role {observed['arn']}",
                    "update",
                    {"policies": (observed["policies"], [EXECUTION_POLICY])},
                )
            ]
        return []

    def apply(self, ctx: Context, state: dict[str, Any], observed: dict[str, Any] | None) -> None:
        name = naming.execution_role(ctx.installation_id, ctx.obj.name)
        if observed is None:
            role = ctx.mutate(
                "iam",
                "create_role",
                resource=f"role {name}",
                RoleName=name,
                Path="/cloudfauj/",
                AssumeRolePolicyDocument=json.dumps(TRUST),
                Description=f"Cloudfauj task execution role of environment {ctx.obj.name}",
                Tags=as_ec2(ctx.aws.tags("Environment", env=ctx.obj.name)),
            )["Role"]
            state["execution_role_arn"] = role["Arn"]
        ctx.mutate(
            "iam", "attach_role_policy", resource=f"role {name}", RoleName=name, PolicyArn=EXECUTION_POLICY
        )

    def delete(self, ctx: Context, observed: dict[str, Any]) -> None:
        name = naming.execution_role(ctx.installation_id, ctx.obj.name)
        for arn in observed["policies"]:
            ctx.mutate("iam", "detach_role_policy", resource=f"role {name}", RoleName=name, PolicyArn=arn)
        for policy in ctx.aws.call("iam", "list_role_policies", RoleName=name)["PolicyNames"]:
            ctx.mutate("iam", "delete_role_policy", resource=f"role {name}", RoleName=name, PolicyName=policy)
        ctx.mutate("iam", "delete_role", resource=f"role {name}", RoleName=name)


class LogGroup:
    name = "log-group"

    def observe(self, ctx: Context, state: dict[str, Any]) -> dict[str, Any] | None:
        name = naming.log_group(ctx.obj.name)
        groups = ctx.aws.call("logs", "describe_log_groups", logGroupNamePrefix=name)["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == name), None)
        if group is None:
            return None
        # ownership is checked when we first meet the group; once our status names it, it is ours
        known = ctx.obj.status.get("outputs", {}).get("log_group") == name
        tags = {} if known else ctx.aws.call("logs", "list_tags_log_group", logGroupName=name).get("tags", {})
        if not known and not is_owned(tags, ctx.installation_id):
            raise PermanentError(
                f"Log group {name} exists but is not managed by this Cloudfauj installation."
            )
        state["log_group"] = name
        return {"name": name, "retention": group.get("retentionInDays")}

    def diff(self, observed: dict[str, Any] | None, retention: int) -> list[Change]:
        if observed is None:
            return [Change(self.name, "create")]
        if observed["retention"] != retention:
            return [
                Change(
                    f"log-group {observed['name']}",
                    "update",
                    {"retention_days": (observed["retention"], retention)},
                )
            ]
        return []

    def apply(self, ctx: Context, state: dict[str, Any], observed: dict[str, Any] | None) -> None:
        name = naming.log_group(ctx.obj.name)
        if observed is None:
            ctx.mutate(
                "logs",
                "create_log_group",
                resource=f"log-group {name}",
                logGroupName=name,
                tags=ctx.aws.tags("Environment", env=ctx.obj.name),
            )
        ctx.mutate(
            "logs",
            "put_retention_policy",
            resource=f"log-group {name}",
            logGroupName=name,
            retentionInDays=ctx.settings.log_retention_days,
        )
        state["log_group"] = name

    def delete(self, ctx: Context, observed: dict[str, Any]) -> None:
        try:
            ctx.mutate(
                "logs",
                "delete_log_group",
                resource=f"log-group {observed['name']}",
                logGroupName=observed["name"],
            )
        except AwsError as e:
            if e.code != "ResourceNotFoundException":
                raise


class EnvironmentController:
    kind = "Environment"

    def __init__(self) -> None:
        self.vpc, self.igw, self.subnets, self.routes = Vpc(), InternetGateway(), Subnets(), RouteTable()
        self.cluster, self.role, self.logs = Cluster(), ExecutionRole(), LogGroup()
        self.lb = LoadBalancing()

    def _walk(self, ctx: Context, act: bool) -> tuple[list[Change], dict[str, Any]]:
        """Observe and diff every sub-resource in order; with `act`, fix each before moving on."""
        state: dict[str, Any] = {}
        changes: list[Change] = []

        def step(found: list[Change], fix: Any) -> None:
            changes.extend(found)
            if act and found:
                fix()

        obs = self.vpc.observe(ctx, state)
        step(
            self.vpc.diff(obs),
            lambda: self.vpc.create(ctx, state) if obs is None else self.vpc.update(ctx, state),
        )
        if "vpc_id" not in state:  # plan only: nothing below can exist without the VPC
            return changes + [
                Change(r, "create") for r in ("internet-gateway", "subnets", "route-table")
            ] + self._compute(ctx, state, act), state
        igw = self.igw.observe(ctx, state)
        step(
            self.igw.diff(igw, state["vpc_id"]),
            lambda: self.igw.create(ctx, state) if igw is None else self.igw.update(ctx, state),
        )
        subnets = self.subnets.observe(ctx, state)
        step(self.subnets.diff(subnets), lambda: self.subnets.apply(ctx, state, subnets))
        routes = self.routes.observe(ctx, state)
        step(
            self.routes.diff(routes, state.get("igw_id"), state.get("subnet_ids", [])),
            lambda: self.routes.apply(ctx, state, routes),
        )
        changes += self._compute(ctx, state, act)
        return changes + self._load_balancing(ctx, state, act), state

    def _load_balancing(self, ctx: Context, state: dict[str, Any], act: bool) -> list[Change]:
        """With a domain: the ALB and its listeners. Without one: remove them if a domain was dropped."""
        domain = ctx.obj.spec.get("domain")
        had = ctx.obj.status.get("outputs", {}).get("alb_arn") or ctx.obj.status.get("phase") != "ready"
        if not domain and not had:
            return []  # no domain now, none at the last convergence: nothing to look for
        observed = self.lb.observe(ctx, state)
        if not domain:
            if observed["alb"] is None and observed["sg"] is None:
                return []
            if act:
                self.lb.delete(ctx, observed)
            return [Change("load-balancer", "delete")]
        dom = domain_outputs(ctx, domain)
        changes = self.lb.diff(observed, dom["certificate_arn"])
        if act and changes:
            self.lb.apply(ctx, state, observed, dom["certificate_arn"])
            observed = self.lb.observe(ctx, state)
        state["lb"] = {**self.lb.outputs(observed), "domain": domain, "zone_id": dom["zone_id"]}
        return changes

    def _compute(self, ctx: Context, state: dict[str, Any], act: bool) -> list[Change]:
        changes: list[Change] = []
        for sub, extra in (
            (self.cluster, ()),
            (self.role, ()),
            (self.logs, (ctx.settings.log_retention_days,)),
        ):
            observed = sub.observe(ctx, state)
            found = sub.diff(observed, *extra)
            changes.extend(found)
            if act and found:
                sub.apply(ctx, state, observed)
        return changes

    def plan(self, ctx: Context) -> list[Change]:
        return self._walk(ctx, act=False)[0]

    def reconcile(self, ctx: Context) -> Result:
        changes, state = self._walk(ctx, act=True)
        if not changes:
            ctx.emit("info", "Every resource of the environment matches its spec.")
        return Done(
            outputs={
                "vpc_id": state.get("vpc_id"),
                "vpc_cidr": state.get("vpc_cidr"),
                "subnet_ids": state.get("subnet_ids", []),
                "cluster_name": naming.cluster(ctx.installation_id, ctx.obj.name),
                "cluster_arn": state.get("cluster_arn"),
                "execution_role_arn": state.get("execution_role_arn"),
                "log_group": state.get("log_group"),
                "region": ctx.aws.region,
                **state.get("lb", {}),
            }
        )

    def finalize(self, ctx: Context) -> Result:
        apps = ctx.dependents()
        if apps:
            names = ", ".join(sorted(a.name for a in apps))
            return Wait(f"waiting for the environment's applications to be deleted: {names}", delay=2)
        state: dict[str, Any] = {}
        self.vpc.observe(ctx, state)
        balancing = self.lb.observe(ctx, state)
        if balancing["alb"] is not None or balancing["sg"] is not None:
            self.lb.delete(ctx, balancing)
        delete_namespace(ctx, ctx.obj.name)  # private apps' names (controllers.discovery), once they are gone
        for sub in (self.logs, self.role, self.cluster):
            observed = sub.observe(ctx, state)
            if observed is not None:
                sub.delete(ctx, observed)
        routes = self.routes.observe(ctx, state)
        if routes is not None:
            self.routes.delete(ctx, routes)
        self.subnets.delete(ctx, self.subnets.observe(ctx, state))
        igw = self.igw.observe(ctx, state)
        if igw is not None:
            self.igw.delete(ctx, igw)
        vpc = self.vpc.observe(ctx, state)
        if vpc is not None:
            self.vpc.delete(ctx, vpc)
        return Done(message="Every resource of the environment is deleted.")
