"""What an application's task definition says beyond image, size and port: environment, secrets, roles,
command, entrypoint, container health check, stop timeout and CPU architecture.

Three pure views of the same settings, so that what is registered and what is compared cannot drift
apart: `container_settings(spec)` (desired, in the shape the diff compares), `observed_container_settings
(td)` (the same shape, read back from ECS), and `container_fields` / `task_fields` (the arguments of
RegisterTaskDefinition). Unset settings compare as None or [] on both sides, so task definitions
registered before these settings existed match a spec that does not use them.

Secrets are references (`valueFrom`): ECS resolves them when a task starts, with the execution role.
No secret value ever passes through Cloudfauj, its records or its logs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["container_fields", "container_settings", "observed_container_settings", "task_fields"]

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
