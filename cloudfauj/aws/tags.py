"""Ownership tags (ARCHITECTURE §6): what marks a resource as ours, in the shapes each AWS API wants."""

from __future__ import annotations

from typing import Any

__all__ = [
    "MANAGED_BY",
    "as_ec2",
    "as_ecs",
    "from_aws",
    "is_owned",
    "ownership_tags",
]

MANAGED_BY = "cloudfauj:managed-by"


def ownership_tags(installation_id: str, kind: str, **scope: str | None) -> dict[str, str]:
    """`cloudfauj:managed-by`, `cloudfauj:kind`, and `cloudfauj:env|app|domain` as given (names verbatim)."""
    tags = {MANAGED_BY: installation_id, "cloudfauj:kind": kind}
    for key, value in scope.items():
        if value is not None:
            tags[f"cloudfauj:{key}"] = value
    return tags


def as_ec2(tags: dict[str, str], name: str | None = None) -> list[dict[str, str]]:
    """EC2, IAM, ELBv2 and ACM take [{Key, Value}]; EC2 shows `Name` in the console."""
    out = [{"Key": k, "Value": v} for k, v in tags.items()]
    if name:
        out.append({"Key": "Name", "Value": name})
    return out


def as_ecs(tags: dict[str, str]) -> list[dict[str, str]]:
    """ECS takes [{key, value}] in lower case."""
    return [{"key": k, "value": v} for k, v in tags.items()]


def from_aws(tags: list[dict[str, Any]] | dict[str, str] | None) -> dict[str, str]:
    """Any AWS tag shape ([{Key, Value}], [{key, value}], {k: v}) as a plain dict."""
    if not tags:
        return {}
    if isinstance(tags, dict):
        return dict(tags)
    return {str(t.get("Key", t.get("key"))): str(t.get("Value", t.get("value"))) for t in tags}


def is_owned(tags: dict[str, str], installation_id: str, **scope: str | None) -> bool:
    """Whether a resource with `tags` belongs to this installation (and to `scope`, when given)."""
    if tags.get(MANAGED_BY) != installation_id:
        return False
    return all(tags.get(f"cloudfauj:{k}") == v for k, v in scope.items() if v is not None)
