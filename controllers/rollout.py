"""Reading an ECS rollout truthfully (ARCHITECTURE §5), from the service's `deployments` and events.

Success: the PRIMARY deployment runs our task definition revision, `rolloutState == COMPLETED` and every
desired task runs. Failure: our deployment is FAILED, or the circuit breaker rolled the service back to
another revision (upstream reported that as success because it read `deployments[0]`). The reason names
what ECS said, including why tasks stopped (e.g. an image that cannot be pulled).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudfauj.errors import PermanentError
from cloudfauj.records import format_time
from controllers.base import Context

__all__ = ["RolloutState", "RolloutTracker"]

_SEEN_EVENTS = 50


@dataclass(frozen=True)
class RolloutState:
    done: bool
    message: str


def _revision(arn: str | None) -> str:
    return (arn or "?").split("/")[-1]


class RolloutTracker:
    def evaluate(self, ctx: Context, cluster: str, svc: dict[str, Any], td_arn: str) -> RolloutState:
        self._log_service_events(ctx, svc)
        deployments = svc.get("deployments", [])
        primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
        ours = [d for d in deployments if d.get("taskDefinition") == td_arn]
        failed = next((d for d in ours if d.get("rolloutState") == "FAILED"), None)
        if failed is not None:
            raise PermanentError(self._failure(ctx, cluster, svc, td_arn, failed, primary))
        if primary is not None and primary.get("taskDefinition") == td_arn:
            return self._progress(ctx, primary)
        if primary is not None:
            raise PermanentError(
                f"ECS is no longer deploying {_revision(td_arn)}: the service runs "
                f"{_revision(primary.get('taskDefinition'))} (rolled back or replaced). "
                + self._stopped_reason(ctx, cluster, svc, td_arn)
            )
        return RolloutState(False, "Waiting for ECS to start the deployment.")

    def _progress(self, ctx: Context, primary: dict[str, Any]) -> RolloutState:
        state = primary.get("rolloutState") or "IN_PROGRESS"
        running, desired = primary.get("runningCount", 0), primary.get("desiredCount", 0)
        revision = _revision(primary.get("taskDefinition"))
        message = f"ECS rollout {state}: {running}/{desired} tasks running ({revision})."
        if state == "COMPLETED" and running >= desired:
            ctx.emit("rollout", message, resource=primary.get("id"))
            return RolloutState(
                True,
                f"Deployed {_revision(primary.get('taskDefinition'))}: {running}/{desired} tasks running.",
            )
        return RolloutState(False, message)

    def _failure(
        self,
        ctx: Context,
        cluster: str,
        svc: dict[str, Any],
        td_arn: str,
        failed: dict[str, Any],
        primary: dict[str, Any] | None,
    ) -> str:
        reason = failed.get("rolloutStateReason") or "ECS reported the deployment as FAILED."
        text = f"ECS deployment of {_revision(td_arn)} failed: {reason}"
        stopped = self._stopped_reason(ctx, cluster, svc, td_arn)
        if stopped:
            text += f" {stopped}"
        if primary is not None and primary.get("taskDefinition") != td_arn:
            text += (
                f" The circuit breaker rolled the service back: rolled back to revision "
                f"{str(primary.get('taskDefinition', '')).rsplit(':', 1)[-1]} "
                f"({_revision(primary.get('taskDefinition'))})."
            )
        return text

    @staticmethod
    def _stopped_reason(ctx: Context, cluster: str, svc: dict[str, Any], td_arn: str) -> str:
        arns = ctx.aws.call(
            "ecs", "list_tasks", cluster=cluster, serviceName=svc["serviceName"], desiredStatus="STOPPED"
        ).get("taskArns", [])[:100]
        if not arns:
            return ""
        tasks = ctx.aws.call("ecs", "describe_tasks", cluster=cluster, tasks=arns).get("tasks", [])
        reasons = sorted(
            {
                t.get("stoppedReason")
                for t in tasks
                if t.get("taskDefinitionArn") == td_arn and t.get("stoppedReason")
            }
        )
        return f"Stopped tasks: {'; '.join(reasons[:2])}." if reasons else ""

    @staticmethod
    def _log_service_events(ctx: Context, svc: dict[str, Any]) -> None:
        """Copy ECS's service events into the record, once each, oldest first."""
        started = ctx.record.started_at if ctx.record else None
        seen: list[str] = ctx.progress.setdefault("ecs_events", [])
        for event in reversed(svc.get("events", [])[:20]):
            created = event.get("createdAt")
            stamp = format_time(created) if isinstance(created, datetime) else str(created)
            if event.get("id") in seen or (started and stamp < started):
                continue
            seen.append(event.get("id"))
            ctx.emit("rollout", str(event.get("message")))
        del seen[:-_SEEN_EVENTS]
