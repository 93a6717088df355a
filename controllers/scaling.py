"""Autoscaling of an application's ECS service: an Application Auto Scaling target and target-tracking
policies (CPU, memory, load-balancer requests per target).

When `autoscaling` is set, the autoscaler owns the service's desired count: the service is created with
`min` tasks, later updates never send a desired count, and drift checks ignore it (the reconciler and
the autoscaler must not fight over it). Changing `min`/`max` or a target re-registers the target or puts
the policy again (both calls are upserts); removing `autoscaling` deregisters the target, which deletes
its policies with it, and the spec's `replicas` applies again.

The target is identified by the service (`service/<cluster>/<service>`), which is ours (checked by its
tags before this runs); policies are named `cloudfauj-*`, and only those are ever deleted.
"""

from __future__ import annotations

from typing import Any

from cloudfauj.aws import AwsError
from controllers.base import Change, Context

__all__ = ["Scaling", "resource_id"]

NAMESPACE, DIMENSION = "ecs", "ecs:service:DesiredCount"
PREFIX = "cloudfauj-"
METRICS = {
    "cpu_target": ("cpu", "ECSServiceAverageCPUUtilization"),
    "memory_target": ("memory", "ECSServiceAverageMemoryUtilization"),
    "requests_per_target": ("requests", "ALBRequestCountPerTarget"),
}
SCALE_IN_COOLDOWN, SCALE_OUT_COOLDOWN = 300, 60  # seconds: out quickly, in carefully


def resource_id(cluster_arn: str, service: str) -> str:
    return f"service/{cluster_arn.split('/')[-1]}/{service}"


def _label(alb_arn: str, tg_arn: str) -> str:
    """ALBRequestCountPerTarget's resource label: `app/<lb>/<id>/targetgroup/<tg>/<id>`."""
    return f"{alb_arn.split(':loadbalancer/')[-1]}/{tg_arn.split(':')[-1]}"


class Scaling:
    name = "autoscaling"

    @staticmethod
    def desired(spec: dict[str, Any], env: dict[str, Any], tg_arn: str | None) -> dict[str, Any] | None:
        scaling: dict[str, Any] | None = spec.get("autoscaling")
        if not scaling:
            return None
        policies: dict[str, Any] = {}
        for field, (suffix, metric) in METRICS.items():
            if scaling.get(field) is None:
                continue
            label = (
                _label(env["alb_arn"], tg_arn)
                if suffix == "requests" and tg_arn and env.get("alb_arn")
                else None
            )
            policies[PREFIX + suffix] = {"metric": metric, "target": float(scaling[field]), "label": label}
        return {"min": scaling.get("min", 1), "max": scaling["max"], "policies": policies}

    def observe(self, ctx: Context, rid: str) -> dict[str, Any] | None:
        targets = ctx.aws.call(
            "application-autoscaling",
            "describe_scalable_targets",
            ServiceNamespace=NAMESPACE,
            ResourceIds=[rid],
            ScalableDimension=DIMENSION,
        )["ScalableTargets"]
        if not targets:
            return None
        found = ctx.aws.call(
            "application-autoscaling",
            "describe_scaling_policies",
            ServiceNamespace=NAMESPACE,
            ResourceId=rid,
            ScalableDimension=DIMENSION,
        )["ScalingPolicies"]
        policies = {}
        for p in found:
            config = p.get("TargetTrackingScalingPolicyConfiguration") or {}
            spec = config.get("PredefinedMetricSpecification") or {}
            policies[p["PolicyName"]] = {
                "metric": spec.get("PredefinedMetricType"),
                "target": float(config.get("TargetValue", 0)),
                "label": spec.get("ResourceLabel"),
            }
        return {"min": targets[0]["MinCapacity"], "max": targets[0]["MaxCapacity"], "policies": policies}

    def diff(self, desired: dict[str, Any] | None, observed: dict[str, Any] | None) -> list[Change]:
        if desired is None:
            return [Change("autoscaling target", "delete")] if observed is not None else []
        if observed is None:
            return [Change("autoscaling target", "create", {k: (None, v) for k, v in desired.items()})]
        ours = {k: v for k, v in observed["policies"].items() if k.startswith(PREFIX)}
        current = {"min": observed["min"], "max": observed["max"], "policies": ours}
        fields = {k: (current[k], v) for k, v in desired.items() if current[k] != v}
        return [Change("autoscaling target", "update", fields)] if fields else []

    def apply(
        self, ctx: Context, rid: str, desired: dict[str, Any] | None, observed: dict[str, Any] | None
    ) -> None:
        if desired is None:
            if observed is not None:
                self.delete(ctx, rid)
            return
        if observed is None or (observed["min"], observed["max"]) != (desired["min"], desired["max"]):
            ctx.mutate(
                "application-autoscaling",
                "register_scalable_target",
                resource=f"scalable-target {rid}",
                ServiceNamespace=NAMESPACE,
                ResourceId=rid,
                ScalableDimension=DIMENSION,
                MinCapacity=desired["min"],
                MaxCapacity=desired["max"],
                Tags=ctx.aws.tags("Application", env=ctx.obj.env, app=ctx.obj.name),
            )
        current = (observed or {}).get("policies", {})
        for name, policy in desired["policies"].items():
            if current.get(name) != policy:
                self._put_policy(ctx, rid, name, policy)
        for name in sorted(set(current) - set(desired["policies"])):
            if name.startswith(PREFIX):
                self._delete_policy(ctx, rid, name)

    @staticmethod
    def _delete_policy(ctx: Context, rid: str, name: str) -> None:
        ctx.mutate(
            "application-autoscaling",
            "delete_scaling_policy",
            resource=f"scaling-policy {name}",
            PolicyName=name,
            ServiceNamespace=NAMESPACE,
            ResourceId=rid,
            ScalableDimension=DIMENSION,
        )

    @staticmethod
    def _put_policy(ctx: Context, rid: str, name: str, policy: dict[str, Any]) -> None:
        metric: dict[str, Any] = {"PredefinedMetricType": policy["metric"]}
        if policy["label"]:
            metric["ResourceLabel"] = policy["label"]
        ctx.mutate(
            "application-autoscaling",
            "put_scaling_policy",
            resource=f"scaling-policy {name}",
            PolicyName=name,
            ServiceNamespace=NAMESPACE,
            ResourceId=rid,
            ScalableDimension=DIMENSION,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": policy["target"],
                "PredefinedMetricSpecification": metric,
                "ScaleInCooldown": SCALE_IN_COOLDOWN,
                "ScaleOutCooldown": SCALE_OUT_COOLDOWN,
            },
        )

    def delete(self, ctx: Context, rid: str) -> None:
        """Our policies, then the target (AWS deletes a target's policies with it; moto does not)."""
        observed = self.observe(ctx, rid)
        if observed is None:
            return
        for name in sorted(observed["policies"]):
            if name.startswith(PREFIX):
                self._delete_policy(ctx, rid, name)
        try:
            ctx.mutate(
                "application-autoscaling",
                "deregister_scalable_target",
                resource=f"scalable-target {rid}",
                ServiceNamespace=NAMESPACE,
                ResourceId=rid,
                ScalableDimension=DIMENSION,
            )
        except AwsError as e:
            if e.code not in ("ObjectNotFoundException", "ValidationException"):
                raise
