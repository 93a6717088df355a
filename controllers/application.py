"""The Application controller: roles → security group → routing or service discovery → task definition →
ECS service → autoscaling, then rollout tracking.

A deployment succeeds only when the service's PRIMARY deployment runs the new task definition revision
with `rolloutState == COMPLETED`; it fails when that rollout is FAILED or the circuit breaker rolled the
service back to another revision (ARCHITECTURE §5). The task definition revision a record is rolling out
is kept in the record's progress, so a restarted server tracks the same rollout instead of starting
another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cloudfauj.aws import AwsError, as_ec2, as_ecs, ecr, from_aws, is_owned
from cloudfauj.errors import PermanentError, TemporaryError
from cloudfauj.manifests import fargate_size
from cloudfauj.records import Cause, Record
from controllers import naming
from controllers.approles import AppRole, execution_role_desired, task_role_desired
from controllers.base import Change, Context, Done, Result, Wait
from controllers.discovery import Discovery
from controllers.idempotency import client_token
from controllers.rollout import RolloutTracker
from controllers.routing import Routing
from controllers.scaling import Scaling, resource_id
from controllers.taskdefinition import TaskDefinition, port_of

__all__ = ["ApplicationController"]


def _env_outputs(ctx: Context) -> dict[str, Any]:
    """The environment's outputs once it is ready; wait (bounded by the record's deadline) until then."""
    env = ctx.lookup("Environment", None, ctx.obj.env or "")
    if env is None or env.deleting:
        raise PermanentError(f"Environment '{ctx.obj.env}' does not exist (or is being deleted).")
    if env.status.get("phase") == "failed":
        why = env.status.get("message") or "see `cloudfauj get records --kind Environment`"
        raise PermanentError(
            f"Environment '{env.name}' failed to converge ({why}); fix it, then deploy again."
        )
    ready = env.status.get("phase") == "ready" and env.status.get("observed_generation") == env.generation
    outputs: dict[str, Any] = env.status.get("outputs", {})
    if not ready or not outputs.get("cluster_arn"):
        raise TemporaryError(f"Waiting for environment '{env.name}' to be ready.", delay=2)
    return outputs


HEALTH_CHECK_GRACE_SECONDS = 60
_ENV_GONE = frozenset(
    {"InvalidVpcID.NotFound", "InvalidSubnetID.NotFound", "InvalidGroup.NotFound", "ClusterNotFoundException"}
)


@contextmanager
def _environment_may_be_gone(ctx: Context) -> Iterator[None]:
    """The environment's network or cluster vanished under us (deleted by hand, or an emulator that
    restarted empty): the environment's own resync recreates it, and then this app follows."""
    try:
        yield
    except AwsError as e:
        if e.code not in _ENV_GONE:
            raise
        message = f"Environment '{ctx.obj.env}' is missing resources ({e.code}); waiting for it."
        raise TemporaryError(message, delay=3) from e


def _shown(spec: dict[str, Any]) -> str:
    """The image as the user wrote it, with the digest it was pinned to."""
    digest = spec.get("image_digest")
    return f"{spec['image']} ({digest})" if digest else str(spec["image"])


def _preflight(ctx: Context) -> None:
    """What would make the deployment fail anyway, checked before anything in AWS is changed: a failure
    here ends the deployment at once with what to fix."""
    spec = ctx.obj.spec
    try:
        fargate_size(spec["resources"]["cpu"], spec["resources"]["memory"])
    except ValueError as e:
        raise PermanentError(f"Pre-flight: {e}") from e
    names = naming.app_name_problems(ctx.obj.env or "", ctx.obj.name)
    if names:
        raise PermanentError(f"Pre-flight: {'; '.join(names)}.")
    image = spec["image"]
    found = ecr.resolve(ctx.aws, ecr.pinned(image, spec.get("image_digest")))
    if found.problem:
        raise PermanentError(f"Pre-flight: {found.problem}.")


class SecurityGroup:
    name = "security-group"

    def observe(self, ctx: Context, env: dict[str, Any]) -> dict[str, Any] | None:
        in_vpc = ctx.reads.security_groups(
            ctx.aws, env["vpc_id"], ctx.installation_id, fresh=ctx.record is not None
        )
        groups = [
            g
            for g in in_vpc
            if from_aws(g.get("Tags")).get("cloudfauj:app") == ctx.obj.name
            and from_aws(g.get("Tags")).get("cloudfauj:kind") == "Application"
        ]
        if not groups:
            return None
        sg = sorted(groups, key=lambda g: g["GroupId"])[0]
        rules = sorted(
            (p.get("IpProtocol"), p.get("FromPort"), p.get("ToPort"), source)
            for p in sg.get("IpPermissions", [])
            for source in [r["CidrIp"] for r in p.get("IpRanges", [])]
            + [g["GroupId"] for g in p.get("UserIdGroupPairs", [])]
        )
        return {"id": sg["GroupId"], "ingress": rules}

    @staticmethod
    def desired(spec: dict[str, Any], env: dict[str, Any]) -> list[tuple[str, int, int, str]]:
        """The app port, open to the world, or only to the load balancer when the env has one (upstream
        opened it to the world either way, so traffic could bypass TLS); a private app's only to its
        VPC; a worker's not at all (it takes no traffic)."""
        port = port_of(spec)
        if port is None:
            return []
        if spec.get("visibility") == "private":
            return [("tcp", port, port, env["vpc_cidr"])]
        return [("tcp", port, port, env.get("alb_security_group_id") or "0.0.0.0/0")]

    def diff(self, desired: list[tuple[Any, ...]], observed: dict[str, Any] | None) -> list[Change]:
        if observed is None:
            return [Change(self.name, "create", {"ingress": (None, desired)})]
        if sorted(observed["ingress"]) != sorted(desired):
            return [
                Change(
                    f"security-group {observed['id']}", "update", {"ingress": (observed["ingress"], desired)}
                )
            ]
        return []

    def apply(self, ctx: Context, env: dict[str, Any], observed: dict[str, Any] | None) -> str:
        desired = self.desired(ctx.obj.spec, env)
        if observed is None:
            name = naming.app_security_group(ctx.installation_id, ctx.obj.env or "", ctx.obj.name)
            sg = ctx.mutate(
                "ec2",
                "create_security_group",
                resource=f"security-group {name}",
                GroupName=name,
                Description=f"Cloudfauj application {ctx.obj.name} in {ctx.obj.env}",
                VpcId=env["vpc_id"],
                TagSpecifications=[
                    {"ResourceType": "security-group", "Tags": as_ec2(self._tags(ctx), name=name)}
                ],
            )
            observed = {"id": sg["GroupId"], "ingress": []}
        sg_id = observed["id"]
        stale = [r for r in observed["ingress"] if r not in desired]
        missing = [r for r in desired if r not in observed["ingress"]]
        if stale:
            ctx.mutate(
                "ec2",
                "revoke_security_group_ingress",
                resource=f"security-group {sg_id}",
                GroupId=sg_id,
                IpPermissions=[_permission(r) for r in stale],
            )
        if missing:
            ctx.mutate(
                "ec2",
                "authorize_security_group_ingress",
                resource=f"security-group {sg_id}",
                GroupId=sg_id,
                IpPermissions=[_permission(r) for r in missing],
            )
        ctx.reads.forget_groups(env["vpc_id"], ctx.installation_id)
        return str(sg_id)

    @staticmethod
    def _tags(ctx: Context) -> dict[str, str]:
        return ctx.aws.tags("Application", env=ctx.obj.env, app=ctx.obj.name)


def _permission(rule: tuple[Any, ...]) -> dict[str, Any]:
    protocol, low, high, source = rule
    permission = {"IpProtocol": protocol, "FromPort": low, "ToPort": high}
    if source.startswith("sg-"):
        return permission | {"UserIdGroupPairs": [{"GroupId": source, "Description": "load balancer"}]}
    return permission | {"IpRanges": [{"CidrIp": source, "Description": "application port"}]}


def _routed(spec: dict[str, Any]) -> bool:
    """Whether the app is behind the environment's load balancer (when it has one): public servers."""
    return bool(spec.get("type", "server") == "server" and spec.get("visibility", "public") == "public")


class Service:
    name = "service"

    def observe(self, ctx: Context, cluster: str) -> dict[str, Any] | None:
        svc = ctx.reads.service(
            ctx.aws, cluster, ctx.obj.env or "", naming.service(ctx.obj.name), fresh=ctx.record is not None
        )
        if svc is None:
            return None
        if not is_owned(from_aws(svc.get("tags")), ctx.installation_id, app=ctx.obj.name):
            raise PermanentError(
                f"ECS service {svc['serviceName']} exists in the cluster but is not managed by Cloudfauj."
            )
        return dict(svc)

    @staticmethod
    def desired(
        ctx: Context,
        env: dict[str, Any],
        td_arn: str,
        sg_id: str,
        tg_arn: str | None,
        registry_arn: str | None = None,
    ) -> dict[str, Any]:
        """With autoscaling, `desiredCount` is None: the autoscaler owns it (see controllers.scaling)."""
        spec = ctx.obj.spec
        port = port_of(spec)
        balancers = (
            [
                {
                    "targetGroupArn": tg_arn,
                    "containerName": naming.container(ctx.obj.name),
                    "containerPort": port,
                }
            ]
            if tg_arn
            else []
        )
        return {
            "loadBalancers": balancers,
            "taskDefinition": td_arn,
            "desiredCount": None if spec.get("autoscaling") else spec.get("replicas", 1),
            "serviceRegistries": [{"registryArn": registry_arn}] if registry_arn else [],
            "subnets": sorted(env["subnet_ids"]),
            "securityGroups": [sg_id],
            "assignPublicIp": "ENABLED",
            "circuitBreaker": {"enable": True, "rollback": True},
        }

    @staticmethod
    def observed_fields(svc: dict[str, Any]) -> dict[str, Any]:
        vpc = svc.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
        breaker = svc.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker")
        return {
            "loadBalancers": [
                {k: lb.get(k) for k in ("targetGroupArn", "containerName", "containerPort")}
                for lb in svc.get("loadBalancers", [])
            ],
            "taskDefinition": svc.get("taskDefinition"),
            "desiredCount": svc.get("desiredCount"),
            "serviceRegistries": [
                {"registryArn": r.get("registryArn")} for r in svc.get("serviceRegistries") or []
            ],
            "subnets": sorted(vpc.get("subnets", [])),
            "securityGroups": sorted(vpc.get("securityGroups", [])),
            "assignPublicIp": vpc.get("assignPublicIp"),
            "circuitBreaker": breaker,
        }

    def diff(self, desired: dict[str, Any], observed: dict[str, Any] | None) -> list[Change]:
        if observed is None:
            return [Change(self.name, "create", {k: (None, v) for k, v in desired.items()})]
        current = self.observed_fields(observed)
        # a desired value of None is not ours to set (the autoscaler's desired count)
        fields = {k: (current.get(k), v) for k, v in desired.items() if v is not None and current.get(k) != v}
        return [Change(f"service {observed['serviceName']}", "update", fields)] if fields else []

    def apply(
        self,
        ctx: Context,
        cluster: str,
        desired: dict[str, Any],
        observed: dict[str, Any] | None,
        *,
        force: bool = False,
    ) -> None:
        name = naming.service(ctx.obj.name)
        params: dict[str, Any] = {
            "loadBalancers": desired["loadBalancers"],
            "taskDefinition": desired["taskDefinition"],
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": desired["subnets"],
                    "securityGroups": desired["securityGroups"],
                    "assignPublicIp": desired["assignPublicIp"],
                }
            },
            "deploymentConfiguration": {
                "maximumPercent": 200,
                "minimumHealthyPercent": 100,
                "deploymentCircuitBreaker": desired["circuitBreaker"],
            },
        }
        if desired["loadBalancers"]:
            params["healthCheckGracePeriodSeconds"] = HEALTH_CHECK_GRACE_SECONDS
        if desired["serviceRegistries"] or (observed or {}).get("serviceRegistries"):
            params["serviceRegistries"] = desired["serviceRegistries"]
        if desired["desiredCount"] is not None:
            params["desiredCount"] = desired["desiredCount"]
        elif observed is None:  # autoscaled: start at its minimum, then it is the autoscaler's
            params["desiredCount"] = ctx.obj.spec["autoscaling"].get("min", 1)
        if observed is None:
            ctx.mutate(
                "ecs",
                "create_service",
                resource=f"service {name}",
                cluster=cluster,
                serviceName=name,
                clientToken=client_token(ctx, "service"),  # a repeat answers with this service
                launchType="FARGATE",
                schedulingStrategy="REPLICA",
                propagateTags="SERVICE",
                tags=as_ecs(ctx.aws.tags("Application", env=ctx.obj.env, app=ctx.obj.name)),
                **params,
            )
        else:
            ctx.mutate(
                "ecs",
                "update_service",
                resource=f"service {name}",
                cluster=cluster,
                service=name,
                forceNewDeployment=force,
                **params,
            )
        ctx.reads.forget_service(cluster, name)

    def delete(self, ctx: Context, cluster: str, observed: dict[str, Any]) -> None:
        name = observed["serviceName"]
        ctx.reads.forget_service(cluster, name)
        try:
            ctx.mutate(
                "ecs", "delete_service", resource=f"service {name}", cluster=cluster, service=name, force=True
            )
        except AwsError as e:
            if e.code not in ("ServiceNotFoundException", "ClusterNotFoundException"):
                raise


class ApplicationController:
    kind = "Application"

    def __init__(self) -> None:
        self.sg, self.td, self.service, self.tracker = (
            SecurityGroup(),
            TaskDefinition(),
            Service(),
            RolloutTracker(),
        )
        self.routing = Routing()
        self.exec_role, self.task_role = AppRole("exec"), AppRole("task")
        self.discovery, self.scaling = Discovery(), Scaling()

    def _roles(self, ctx: Context, *, act: bool) -> tuple[list[Change], dict[str, str | None], list[Any]]:
        """The app's own roles: changes, ARNs (made when `act`, else a placeholder for a new one), and the
        roles to delete once the service no longer uses them."""
        changes: list[Change] = []
        arns: dict[str, str | None] = {}
        unwanted = []
        for role, desired in (
            (self.exec_role, execution_role_desired(ctx)),
            (self.task_role, task_role_desired(ctx)),
        ):
            # a resync of an app without own roles asks IAM nothing (resyncs are budgeted, see reads.py);
            # a deployment looks, to remove a role the spec no longer asks for
            observed = role.observe(ctx) if desired is not None or ctx.record is not None else None
            found = role.diff(desired, observed)
            changes += found
            if desired is None:
                arns[role.purpose] = None
                if observed is not None:
                    unwanted.append((role, observed))
            elif act and found:
                arns[role.purpose] = role.apply(ctx, desired, observed)
            else:
                arns[role.purpose] = observed["arn"] if observed else f"(new {role.purpose} role)"
        return changes, arns, unwanted

    def _observe(self, ctx: Context, env: dict[str, Any], roles: dict[str, str | None]) -> dict[str, Any]:
        previous = ctx.obj.status.get("outputs") or {}  # routing left behind only if the app had a URL
        spec = ctx.obj.spec
        td_desired = self.td.desired(ctx, env, roles)
        service = self.service.observe(ctx, env["cluster_arn"])
        listener = bool(env.get("https_listener_arn"))
        private = spec.get("visibility") == "private"
        rid = resource_id(env["cluster_arn"], naming.service(ctx.obj.name))
        return {
            "sg": self.sg.observe(ctx, env),
            "td_desired": td_desired,
            "td": self.td.observe(ctx, td_desired, service.get("taskDefinition") if service else None),
            "service": service,
            "routing": self.routing.observe(ctx, env) if listener and _routed(spec) else None,
            # routing of an app that was a public server before (`type` or `visibility` changed)
            "unrouted": self.routing.observe(ctx, env) if listener and not _routed(spec) else None,
            "leftovers": self.routing.leftovers(ctx, env, previous) if previous.get("url") else {},
            "discovery": self.discovery.observe(ctx) if private or previous.get("internal_name") else None,
            "scaling": self.scaling.observe(ctx, rid)
            if service is not None and (spec.get("autoscaling") or ctx.record is not None)
            else None,
            "rid": rid,
        }

    def _changes(self, ctx: Context, env: dict[str, Any], seen: dict[str, Any]) -> list[Change]:
        spec = ctx.obj.spec
        changes = self.sg.diff(self.sg.desired(spec, env), seen["sg"])
        td_changes = self.td.diff(seen["td_desired"], seen["td"])
        changes += td_changes
        td_arn = seen["td"]["arn"] if seen["td"] and not td_changes else "(new revision)"
        sg_id = seen["sg"]["id"] if seen["sg"] else "(new security group)"
        tg_arn = None
        if seen["routing"] is not None:
            changes += self.routing.diff(ctx, env, seen["routing"])
            tg_arn = (seen["routing"]["tg"] or {}).get("arn", "(new target group)")
        if seen["unrouted"] and any(seen["unrouted"].values()):
            changes.append(Change("routing", "delete"))
        registry = None
        if seen["discovery"] is not None:
            private = spec.get("visibility") == "private"
            changes += self.discovery.diff(private, seen["discovery"])
            service = seen["discovery"]["service"]
            registry = (service["arn"] if service else "(new service-discovery service)") if private else None
        changes += self.service.diff(
            self.service.desired(ctx, env, td_arn, sg_id, tg_arn, registry), seen["service"]
        )
        changes += self.scaling.diff(self.scaling.desired(spec, env, tg_arn), seen["scaling"])
        return changes + self.routing.diff_leftovers(ctx, seen["leftovers"])

    def plan(self, ctx: Context) -> list[Change]:
        env = _env_outputs(ctx)
        with _environment_may_be_gone(ctx):
            role_changes, roles, _ = self._roles(ctx, act=False)
            return role_changes + self._changes(ctx, env, self._observe(ctx, env, roles))

    def reconcile(self, ctx: Context) -> Result:
        env = _env_outputs(ctx)
        with _environment_may_be_gone(ctx):
            return self._converge(ctx, env)

    def _converge(self, ctx: Context, env: dict[str, Any]) -> Result:
        rolling = ctx.progress.get("rollout_task_definition")
        if rolling:
            return self._track(ctx, env, rolling)
        _preflight(ctx)
        spec = ctx.obj.spec
        _, roles, unwanted_roles = self._roles(ctx, act=True)
        seen = self._observe(ctx, env, roles)
        sg_id = (
            self.sg.apply(ctx, env, seen["sg"])
            if self.sg.diff(self.sg.desired(spec, env), seen["sg"])
            else seen["sg"]["id"]
        )
        tg_arn = None
        if seen["routing"] is not None:
            tg_arn = (
                self.routing.apply(ctx, env, seen["routing"])
                if self.routing.diff(ctx, env, seen["routing"])
                else seen["routing"]["tg"]["arn"]
            )
        private = spec.get("visibility") == "private"
        registry = self.discovery.apply(ctx, env, seen["discovery"]) if private else None
        td_arn = (
            self.td.register(ctx, seen["td_desired"])
            if self.td.diff(seen["td_desired"], seen["td"])
            else seen["td"]["arn"]
        )
        desired = self.service.desired(ctx, env, td_arn, sg_id, tg_arn, registry)
        # `--force`: a new ECS deployment even when nothing differs (upstream reported success without one)
        force = ctx.record is not None and ctx.record.cause == Cause.REDEPLOY and seen["service"] is not None
        if force or self.service.diff(desired, seen["service"]):
            self.service.apply(ctx, env["cluster_arn"], desired, seen["service"], force=force)
            ctx.emit("info", f"Rolling out {_shown(spec)} ({td_arn.split('/')[-1]}).")
        scaling = self.scaling.desired(spec, env, tg_arn)
        observed_scaling = seen["scaling"] if seen["service"] is not None else None
        if self.scaling.diff(scaling, observed_scaling):
            self.scaling.apply(ctx, seen["rid"], scaling, observed_scaling)
        self._drop_unused(ctx, env, seen, unwanted_roles)
        ctx.progress["rollout_task_definition"] = td_arn
        if tg_arn:
            ctx.progress["target_group"] = tg_arn
        return self._track(ctx, env, td_arn)

    def _drop_unused(self, ctx: Context, env: dict[str, Any], seen: dict[str, Any], roles: list[Any]) -> None:
        """What the app no longer uses, once the service let go of it: old routing, a Cloud Map service
        of an app no longer private, a role the spec no longer asks for."""
        if seen["leftovers"]:
            self.routing.delete_leftovers(ctx, seen["leftovers"])
        if seen["unrouted"] and any(seen["unrouted"].values()):
            self.routing.delete(ctx, env)
        if seen["discovery"] is not None and ctx.obj.spec.get("visibility") != "private":
            self.discovery.delete(ctx, seen["discovery"])
        for role, observed in roles:
            role.delete(ctx, observed)

    def _track(self, ctx: Context, env: dict[str, Any], td_arn: str) -> Result:
        svc = self.service.observe(ctx, env["cluster_arn"])
        if svc is None:
            # The service vanished mid-rollout (deleted by hand, or an emulator restarted empty): start over.
            ctx.progress.pop("rollout_task_definition", None)
            raise TemporaryError(
                f"ECS service {ctx.obj.name} disappeared during the rollout; recreating it.", delay=1
            )
        state = self.tracker.evaluate(ctx, env["cluster_arn"], svc, td_arn)
        tg_arn = ctx.progress.get("target_group")
        if state.done and tg_arn:
            counts = self.routing.health(ctx, tg_arn)
            wanted = (
                svc.get("desiredCount", 1)
                if ctx.obj.spec.get("autoscaling")
                else ctx.obj.spec.get("replicas", 1)
            )
            if counts.get("healthy", 0) < wanted:
                seen = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none registered"
                return Wait(
                    f"Waiting for {wanted} healthy load-balancer targets ({seen}).",
                    delay=ctx.settings.rollout_poll_seconds,
                    event_type="rollout",
                )
        if state.done:
            return Done(outputs=self._outputs(ctx, env, svc, td_arn), message=state.message)
        return Wait(
            state.message,
            delay=ctx.settings.rollout_poll_seconds,
            outputs=self._outputs(ctx, env, svc, td_arn),
            event_type="rollout",
        )

    @staticmethod
    def _outputs(ctx: Context, env: dict[str, Any], svc: dict[str, Any], td_arn: str) -> dict[str, Any]:
        return {
            "cluster_arn": env["cluster_arn"],
            "service_arn": svc.get("serviceArn"),
            "service_name": svc.get("serviceName"),
            "task_definition_arn": td_arn,
            "image": ctx.obj.spec["image"],
            "image_digest": ctx.obj.spec.get("image_digest"),
            "log_group": env.get("log_group"),
            "url": f"https://{naming.hostname(ctx.obj.env or '', ctx.obj.name, env['domain'])}"
            if env.get("domain") and _routed(ctx.obj.spec)
            else None,
            # where the app's DNS record lives, so it can be removed if the environment drops its domain
            "domain": env.get("domain"),
            "zone_id": env.get("zone_id"),
            "internal_name": naming.internal_name(ctx.obj.env or "", ctx.obj.name)
            if ctx.obj.spec.get("visibility") == "private"
            else None,
        }

    def restore(self, ctx: Context, good: Record | None) -> str:
        """Put the service back on the revision of the last deployment that succeeded (a cancelled
        deployment, or one past its deadline, must not stay half-rolled-out). Says what it did."""
        env_obj = ctx.lookup("Environment", None, ctx.obj.env or "")
        cluster = (env_obj.status.get("outputs", {}) if env_obj else {}).get("cluster_arn")
        svc = self.service.observe(ctx, cluster) if cluster else None
        if svc is None:
            return "No service is running yet."
        good_td = good.progress.get("rollout_task_definition") if good else None
        if good is None or not good_td:
            return "There is no earlier successful deployment to return to."
        revision = good_td.rsplit(":", 1)[-1]
        if svc.get("taskDefinition") == good_td:
            return f"The service runs revision {revision} (deployment {good.id}, {good.image})."
        ctx.mutate(
            "ecs",
            "update_service",
            resource=f"service {svc['serviceName']}",
            cluster=cluster,
            service=svc["serviceName"],
            taskDefinition=good_td,
        )
        return f"The service was returned to revision {revision} (deployment {good.id}, {good.image})."

    def finalize(self, ctx: Context) -> Result:
        env_obj = ctx.lookup("Environment", None, ctx.obj.env or "")
        env = env_obj.status.get("outputs", {}) if env_obj else {}
        if env.get("cluster_arn"):
            self.scaling.delete(ctx, resource_id(env["cluster_arn"], naming.service(ctx.obj.name)))
            svc = self.service.observe(ctx, env["cluster_arn"])
            if svc is not None:
                self.service.delete(ctx, env["cluster_arn"], svc)
        self.discovery.delete(ctx, self.discovery.observe(ctx))
        if env.get("https_listener_arn") or env.get("zone_id"):
            self.routing.delete(ctx, env)
        self.routing.delete_leftovers(
            ctx, self.routing.leftovers(ctx, env, ctx.obj.status.get("outputs") or {})
        )
        self.td.delete_all(ctx, naming.task_family(ctx.installation_id, ctx.obj.env or "", ctx.obj.name))
        for role in (self.exec_role, self.task_role):
            observed = role.observe(ctx)
            if observed is not None:
                role.delete(ctx, observed)
        if env.get("vpc_id"):
            sg = self.sg.observe(ctx, env)
            if sg is not None:
                try:
                    ctx.mutate(
                        "ec2",
                        "delete_security_group",
                        resource=f"security-group {sg['id']}",
                        GroupId=sg["id"],
                    )
                except AwsError as e:
                    if e.code == "DependencyViolation":
                        raise TemporaryError(
                            "The application's tasks are still stopping; waiting.", delay=5
                        ) from e
                    if not e.code.endswith("NotFound"):
                        raise
        return Done(message="Every resource of the application is deleted.")
