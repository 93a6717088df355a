"""What an application runs with, beyond upstream's image and size: configuration, secrets, its task
role, process overrides and scaling (issue 9; AWS Copilot's manifest is the model users know).

Models and pure rules only, used by `ApplicationSpec` in `models.py`. Everything that one application
can tell about itself is checked here, before anything is stored or any AWS call is made; what needs
the server (a secret's region against the server's) is checked by the server.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from cloudfauj.manifests.names import shown
from cloudfauj.manifests.references import parse_reference
from cloudfauj.manifests.types import MAX_REPLICAS, Int, StrictModel, Text, raise_rule_errors, rule_error

__all__ = [
    "Autoscaling",
    "Platform",
    "Statement",
    "TaskRole",
    "command_line",
    "environment_problems",
]

Platform = Literal["x86_64", "arm64"]
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
MAX_ENVIRONMENT = 200  # variables and secrets together; ECS's limit is the task definition's size
_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/[\w+=,.@/-]{1,512}")
_ACTION = re.compile(r"\*|[a-z0-9-]+:[A-Za-z0-9*?]+")
MAX_MANAGED_POLICIES = 10  # IAM's default quota of managed policies attached to one role
MAX_INLINE_POLICY = 10240  # IAM's limit on a role's inline policies, in characters (whitespace excluded)


def command_line(value: str | list[str]) -> list[str]:
    """A command as ECS takes it: a list stays as written; a string is split as a shell would
    (`python -m app --port 80`), as Copilot does."""
    return list(value) if isinstance(value, list) else shlex.split(value)


def environment_problems(
    variables: dict[str, str], secrets: dict[str, str]
) -> Iterator[tuple[str, str | None, object]]:
    """Names that are not environment variable names, secrets that reference nothing we can read, and a
    name that is both a variable and a secret."""
    for field, mapping in (("variables", variables), ("secrets", secrets)):
        for name in mapping:
            if not ENV_NAME.fullmatch(name):
                message = (
                    "is not an environment variable name: use letters, digits and '_', "
                    f"not starting with a digit (not {shown(name)})"
                )
                yield f"{field}.{name}", message, name
    for name, value in secrets.items():
        if parse_reference(value) is None:
            yield (
                f"secrets.{name}",
                "must be a Secrets Manager secret ARN, an SSM parameter ARN or an SSM parameter name "
                f"(e.g. '/prod/db/password'), not {shown(value)}; secret values never go in a manifest",
                value,
            )
        if name in variables:
            yield f"secrets.{name}", "is also a variable: an environment variable has one value", name
    if len(variables) + len(secrets) > MAX_ENVIRONMENT:
        yield "variables", f"with secrets, at most {MAX_ENVIRONMENT} environment variables are allowed", None


class Statement(StrictModel):
    """An IAM policy statement, written with IAM's own keys so that one can be pasted from AWS's docs."""

    Sid: Text | None = None  # noqa: N815 - IAM's key
    Effect: Literal["Allow", "Deny"]  # noqa: N815
    Action: Text | list[Text]  # noqa: N815
    Resource: Text | list[Text]  # noqa: N815
    Condition: dict[str, dict[str, Any]] | None = None  # noqa: N815

    @field_validator("Action")
    @classmethod
    def _actions(cls, action: str | list[str]) -> str | list[str]:
        for one in [action] if isinstance(action, str) else action:
            if not _ACTION.fullmatch(one):
                raise rule_error(
                    f"must name IAM actions as 'service:Action' (e.g. 's3:GetObject'), not {shown(one)}"
                )
        if not action:
            raise rule_error("must name at least one action")
        return action

    @field_validator("Resource")
    @classmethod
    def _resources(cls, resource: str | list[str]) -> str | list[str]:
        for one in [resource] if isinstance(resource, str) else resource:
            if one != "*" and not one.startswith("arn:"):
                raise rule_error(f"must be '*' or ARNs, not {shown(one)}")
        if not resource:
            raise rule_error("must name at least one resource")
        return resource

    @model_serializer(mode="wrap")
    def _without_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None}


class TaskRole(StrictModel):
    """The app's own IAM role, assumed by its containers: managed policies by ARN, and/or inline
    statements. Created, tagged and deleted with the app (never shared with another app)."""

    policies: list[Text] = Field(default_factory=list, max_length=MAX_MANAGED_POLICIES)
    statements: list[Statement] = Field(default_factory=list, max_length=100)

    @field_validator("policies")
    @classmethod
    def _policy_arns(cls, policies: list[str]) -> list[str]:
        for arn in policies:
            if not _POLICY_ARN.fullmatch(arn):
                raise rule_error(
                    "must be IAM policy ARNs (e.g. 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess'), "
                    f"not {shown(arn)}"
                )
        if len(set(policies)) != len(policies):
            raise rule_error("names a policy twice")
        return policies

    @model_validator(mode="after")
    def _something_granted(self) -> TaskRole:
        if not self.policies and not self.statements:
            raise_rule_errors(
                "TaskRole",
                [("policies", "or 'statements' is required: a role that grants nothing is not needed", None)],
            )
        size = len(json.dumps(inline_policy(self.model_dump()), separators=(",", ":")))
        if size > MAX_INLINE_POLICY:
            raise_rule_errors(
                "TaskRole",
                [("statements", f"are {size} characters as a policy; IAM allows {MAX_INLINE_POLICY}", None)],
            )
        return self

    @model_serializer(mode="wrap")
    def _without_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v}


def inline_policy(task_role: dict[str, Any]) -> dict[str, Any]:
    """The inline policy document of a task role spec (stored form)."""
    return {"Version": "2012-10-17", "Statement": task_role.get("statements", [])}


Percent = Annotated[Int, Field(ge=1, le=100)]


class Autoscaling(StrictModel):
    """Application Auto Scaling of the service's desired count, by target tracking. When set, the
    autoscaler owns the desired count: deployments and drift checks leave it alone."""

    min: Annotated[Int, Field(ge=0, le=MAX_REPLICAS)] = 1
    max: Annotated[Int, Field(ge=1, le=MAX_REPLICAS)]
    cpu_target: Percent | None = None
    memory_target: Percent | None = None
    requests_per_target: Annotated[Int, Field(ge=1, le=1_000_000)] | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Autoscaling:
        problems: list[tuple[str, str | None, object]] = []
        if self.min > self.max:
            problems.append(("min", f"must not be greater than max ({self.min} > {self.max})", self.min))
        if self.cpu_target is None and self.memory_target is None and self.requests_per_target is None:
            problems.append(
                (
                    "cpu_target",
                    "or 'memory_target' or 'requests_per_target' is required: what to scale on",
                    None,
                )
            )
        raise_rule_errors("Autoscaling", problems)
        return self

    @model_serializer(mode="wrap")
    def _without_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None}
