"""Secret references: what an application's `secrets` may name, and what reading each one takes.

A secret is passed to ECS as a reference (`valueFrom`), never as a value: ECS fetches it with the
task's execution role when a task starts. Three forms are accepted, as ECS takes them:

- a Secrets Manager secret ARN, optionally with ECS's `:json-key:version-stage:version-id` suffix;
- an SSM Parameter Store parameter ARN;
- an SSM parameter name (`db_password`, `/prod/db/password`), of this account and region.

Pure functions: the manifest validator uses `parse_reference` to refuse anything else, the server
compares the region with its own, and the Application controller grants the app's execution role read
access to exactly `policy_resource()` of each reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["SecretReference", "parse_reference"]

_SECRET_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):secretsmanager:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"secret:(?P<name>[A-Za-z0-9/_+=.@-]{1,512})(?P<suffix>(:[^:\s]*){0,3})"
)
_PARAMETER_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):ssm:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"parameter(?P<name>/[A-Za-z0-9/_.-]{1,2048})"
)
_PARAMETER_NAME = re.compile(r"/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_RANDOM_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")  # Secrets Manager appends it to every secret's ARN


@dataclass(frozen=True)
class SecretReference:
    service: str  # "secretsmanager" or "ssm"
    region: str | None  # None: a parameter name, in the server's region
    account: str | None
    partition: str
    name: str  # the secret's or parameter's name (a parameter's with its leading "/", if any)

    def policy_resource(self, *, region: str, account: str) -> str:
        """The IAM resource that lets the execution role read this secret and nothing else."""
        partition, region, account = self.partition, self.region or region, self.account or account
        if self.service == "ssm":
            return f"arn:{partition}:ssm:{region}:{account}:parameter/{self.name.lstrip('/')}"
        # An ARN written without Secrets Manager's random suffix names the secret by its name; the six
        # `?` match that suffix only (AWS's documented pattern), not another secret with a longer name.
        name = self.name if _RANDOM_SUFFIX.search(self.name) else f"{self.name}-??????"
        return f"arn:{partition}:secretsmanager:{region}:{account}:secret:{name}"


def parse_reference(value: str) -> SecretReference | None:
    """The reference `value` names, or None when it is none of the accepted forms."""
    if value.startswith("arn:"):
        match = _SECRET_ARN.fullmatch(value)
        if match:
            return SecretReference(
                "secretsmanager", match["region"], match["account"], match["partition"], match["name"]
            )
        match = _PARAMETER_ARN.fullmatch(value)
        if match:
            return SecretReference(
                "ssm", match["region"], match["account"], match["partition"], match["name"]
            )
        return None
    if (
        len(value) <= 2048
        and _PARAMETER_NAME.fullmatch(value)
        and not value.lower().startswith(("aws", "ssm"))
    ):
        return SecretReference("ssm", None, None, "aws", value)
    return None
