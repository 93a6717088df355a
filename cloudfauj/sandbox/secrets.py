"""A task whose secrets cannot be read does not start, as in ECS.

moto stores a task definition's `secrets` but nothing reads them. ECS resolves each one when a task
starts and, when one is missing, stops the task with `ResourceInitializationError` (so the deployment's
circuit breaker trips). The sandbox does the same for references to this account's Secrets Manager and
SSM Parameter Store in the task's region. (Whether the execution role may read them is not checked:
moto does not evaluate IAM policies.)
"""

from __future__ import annotations

from typing import Any

from cloudfauj.sandbox.images import Unrunnable

__all__ = ["missing_secret"]


def missing_secret(container: dict[str, Any], *, account: str, region: str) -> Unrunnable | None:
    """Why a task of `container` cannot start for want of a secret, or None."""
    for secret in container.get("secrets") or []:
        ref = str(secret.get("valueFrom", ""))
        parts = ref.split(":")
        if ref.startswith("arn:") and (len(parts) < 7 or parts[3] != region or parts[4] != account):
            continue  # another account or region: the emulator cannot see it
        if ":secretsmanager:" in ref and not _secret_exists(":".join(parts[:7]), parts[6], account, region):
            return _unreadable(
                ref, "ResourceNotFoundException: Secrets Manager can't find the specified secret."
            )
        if ":secretsmanager:" not in ref and not _parameter_exists(ref, account, region):
            return _unreadable(ref, f"invalid parameters: {parts[-1] if ref.startswith('arn:') else ref}")
    return None


def _secret_exists(arn: str, name: str, account: str, region: str) -> bool:
    from moto.secretsmanager.models import secretsmanager_backends

    secrets: Any = secretsmanager_backends[account][region].secrets
    return arn in secrets or name in secrets


def _parameter_exists(ref: str, account: str, region: str) -> bool:
    from moto.ssm.models import ssm_backends

    return ssm_backends[account][region].get_parameter(ref) is not None


def _unreadable(ref: str, why: str) -> Unrunnable:
    reason = (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
        f"retrieval failed: unable to retrieve secret from asm or ssm ({ref}): {why}"
    )
    return Unrunnable(stop_code="TaskFailedToStart", reason=reason, container_reason=None, exit_code=None)
