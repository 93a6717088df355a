"""An application's task definition: observed, compared with the spec, registered, deregistered.

Beyond image, size and port it says: environment, secrets, roles, command, entrypoint, container
health check, stop timeout and CPU architecture. Three pure views of the same settings, so that what is
registered and what is compared cannot drift apart: `container_settings(spec)` (desired, in the shape
the diff compares), `observed_container_settings(td)` (the same shape, read back from ECS), and
`container_fields` / `task_fields` (the arguments of RegisterTaskDefinition). Unset settings compare as
None or [] on both sides, so task definitions registered before these settings existed match a spec
that does not use them.

Secrets are references (`valueFrom`): ECS resolves them when a task starts, with the execution role.
No secret value ever passes through Cloudfauj, its records or its logs.
"""

from __future__ import annotations

from typing import Any

from cloudfauj.aws import as_ecs, ecr, from_aws, is_owned
from cloudfauj.manifests import fargate_size
from controllers import naming
from controllers.base import Change, Context

__all__ = [
    "TaskDefinition",
    "container_fields",
    "container_settings",
    "observed_container_settings",
    "port_of",
    "task_fields",
]

ARCHITECTURES = {"x86_64": "X86_64", "arm64": "ARM64"}
#: ECS's defaults for a container health check, written out so that desired and described agree
HEALTH_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}


def container_settings(spec: dict[str, Any], task_role_arn: str | None) -> dict[str, Any]:
    health = (spec.get("healthcheck") or {}).get("command")
    check = None
    if health:
        given = spec["healthcheck"]
        check = {
            "command": list(health),
            "interval": given.get("interval", HEALTH_DEFAULTS["interval"]),
            "timeout": given.get("timeout", HEALTH_DEFAULTS["timeout"]),
            "retries": given.get("retries", HEALTH_DEFAULTS["retries"]),
            "startPeriod": given.get("start_period", HEALTH_DEFAULTS["startPeriod"]),
        }
    platform = spec.get("platform")
    return {
        "taskRoleArn": task_role_arn,
        "environment": [{"name": k, "value": v} for k, v in sorted((spec.get("variables") or {}).items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted((spec.get("secrets") or {}).items())],
        "command": spec.get("command"),
        "entryPoint": spec.get("entrypoint"),
        "healthCheck": check,
        "stopTimeout": spec.get("stop_timeout"),
        "runtimePlatform": (
            {"cpuArchitecture": ARCHITECTURES[platform], "operatingSystemFamily": "LINUX"}
            if platform
            else None
        ),
    }


def observed_container_settings(td: dict[str, Any]) -> dict[str, Any]:
    container = td["containerDefinitions"][0]
    check = container.get("healthCheck")
    platform = td.get("runtimePlatform") or None
    return {
        "taskRoleArn": td.get("taskRoleArn") or None,
        "environment": sorted(
            ({"name": e["name"], "value": e.get("value")} for e in container.get("environment") or []),
            key=lambda e: str(e["name"]),
        ),
        "secrets": sorted(
            ({"name": e["name"], "valueFrom": e.get("valueFrom")} for e in container.get("secrets") or []),
            key=lambda e: str(e["name"]),
        ),
        "command": container.get("command") or None,
        "entryPoint": container.get("entryPoint") or None,
        "healthCheck": {k: check.get(k, HEALTH_DEFAULTS.get(k)) for k in ("command", *HEALTH_DEFAULTS)}
        if check
        else None,
        "stopTimeout": container.get("stopTimeout"),
        "runtimePlatform": (
            {
                "cpuArchitecture": platform.get("cpuArchitecture"),
                "operatingSystemFamily": platform.get("operatingSystemFamily"),
            }
            if platform and platform.get("cpuArchitecture")
            else None
        ),
    }


def container_fields(desired: dict[str, Any]) -> dict[str, Any]:
    """The container definition's part of `desired` (unset settings are left out)."""
    fields = {
        "environment": desired["environment"],
        "secrets": desired["secrets"],
        "command": desired["command"],
        "entryPoint": desired["entryPoint"],
        "healthCheck": desired["healthCheck"],
        "stopTimeout": desired["stopTimeout"],
    }
    return {k: v for k, v in fields.items() if v}


def task_fields(desired: dict[str, Any]) -> dict[str, Any]:
    """The task definition's part of `desired` (unset settings are left out)."""
    fields = {"taskRoleArn": desired["taskRoleArn"], "runtimePlatform": desired["runtimePlatform"]}
    return {k: v for k, v in fields.items() if v}


def port_of(spec: dict[str, Any]) -> int | None:
    """A server's port; None for a worker."""
    network = spec["resources"].get("network")
    return int(network["bind_port"]) if network else None


class TaskDefinition:
    name = "task-definition"

    def desired(self, ctx: Context, env: dict[str, Any], roles: dict[str, str | None]) -> dict[str, Any]:
        """`roles`: the app's own execution and task role ARNs ("exec", "task"), None when it has none."""
        spec, app = ctx.obj.spec, ctx.obj.name
        cpu, memory = fargate_size(spec["resources"]["cpu"], spec["resources"]["memory"])
        return {
            "family": naming.task_family(ctx.installation_id, ctx.obj.env or "", app),
            "cpu": str(cpu),
            "memory": str(memory),
            "executionRoleArn": roles.get("exec") or env["execution_role_arn"],
            "image": ecr.pinned(spec["image"], spec.get("image_digest")),
            "port": port_of(spec),
            "log_group": env["log_group"],
            **container_settings(spec, roles.get("task")),
        }

    def observe(self, ctx: Context, desired: dict[str, Any], running: str | None) -> dict[str, Any] | None:
        """The revision to compare with the spec: the one the service runs when it matches (so going back
        to a previous spec after a rollback reuses its revision), else the family's latest."""
        if running:
            current = self._describe(ctx, running)
            if current is not None and not self.diff(desired, current):
                return current
        return self._describe(ctx, desired["family"])

    def _describe(self, ctx: Context, ref: str) -> dict[str, Any] | None:
        td = ctx.reads.task_definition(ctx.aws, ref)
        if td is None or td.get("status") != "ACTIVE":
            return None
        container = td["containerDefinitions"][0]
        ports = container.get("portMappings", [])
        return {
            "arn": td["taskDefinitionArn"],
            "family": td["family"],
            "cpu": td.get("cpu"),
            "memory": td.get("memory"),
            "executionRoleArn": td.get("executionRoleArn"),
            "image": container.get("image"),
            "port": ports[0]["containerPort"] if ports else None,
            "log_group": container.get("logConfiguration", {}).get("options", {}).get("awslogs-group"),
            **observed_container_settings(td),
        }

    def diff(self, desired: dict[str, Any], observed: dict[str, Any] | None) -> list[Change]:
        if observed is None:
            return [Change(self.name, "create", {k: (None, v) for k, v in desired.items()})]
        fields = {k: (observed.get(k), v) for k, v in desired.items() if observed.get(k) != v}
        return [Change(f"task-definition {observed['arn']}", "update", fields)] if fields else []

    def register(self, ctx: Context, desired: dict[str, Any]) -> str:
        app = ctx.obj.name
        container: dict[str, Any] = {
            "name": naming.container(app),
            "image": desired["image"],
            "essential": True,
            "portMappings": [{"containerPort": desired["port"], "protocol": "tcp"}]
            if desired["port"]
            else [],
            **container_fields(desired),
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": desired["log_group"],
                    "awslogs-region": ctx.aws.region,
                    "awslogs-stream-prefix": app,
                },
            },
        }
        td = ctx.mutate(
            "ecs",
            "register_task_definition",
            resource=f"task-definition {desired['family']}",
            family=desired["family"],
            requiresCompatibilities=["FARGATE"],
            networkMode="awsvpc",
            cpu=desired["cpu"],
            memory=desired["memory"],
            executionRoleArn=desired["executionRoleArn"],
            containerDefinitions=[container],
            tags=as_ecs(ctx.aws.tags("Application", env=ctx.obj.env, app=app)),
            **task_fields(desired),
        )["taskDefinition"]
        ctx.reads.remember_task_definition(td)  # revisions are immutable: the next resync need not ask
        return str(td["taskDefinitionArn"])

    def delete_all(self, ctx: Context, family: str) -> None:
        for status in ("ACTIVE",):
            arns = ctx.aws.paginate(
                "ecs", "list_task_definitions", "taskDefinitionArns", familyPrefix=family, status=status
            )
            for arn in arns:
                if arn.split("/")[-1].rsplit(":", 1)[0] != family:
                    continue
                td = ctx.aws.call("ecs", "describe_task_definition", taskDefinition=arn, include=["TAGS"])
                if is_owned(from_aws(td.get("tags")), ctx.installation_id):
                    ctx.mutate(
                        "ecs",
                        "deregister_task_definition",
                        resource=f"task-definition {arn}",
                        taskDefinition=arn,
                    )
