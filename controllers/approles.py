"""An application's own IAM roles: an execution role that reads exactly its secrets, and a task role.

The environment's shared execution role pulls images and writes logs for every app in it. An app that
references secrets gets its own execution role instead — the same managed policy plus an inline policy
allowing `secretsmanager:GetSecretValue` / `ssm:GetParameters` on exactly the secrets it names — so no
app can read another's. An app with `task_role` gets a role its containers assume: the managed policies
and inline statements of its manifest. Both live under the `/cloudfauj/` path (where gc looks), carry
our ownership tags, and are deleted with the app; a role of that name that is not ours is never touched.
"""

from __future__ import annotations

import json
from typing import Any

from cloudfauj.aws import AwsError, as_ec2, from_aws, is_owned
from cloudfauj.errors import PermanentError
from cloudfauj.manifests import parse_reference
from cloudfauj.manifests.workload import inline_policy
from controllers import naming
from controllers.base import Change, Context

__all__ = ["EXECUTION_POLICY", "ROLE_PATH", "AppRole", "execution_role_desired", "task_role_desired"]

EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
ROLE_PATH = "/cloudfauj/"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
SECRETS_POLICY = "cloudfauj-secrets"
TASK_POLICY = "cloudfauj-task"


def execution_role_desired(ctx: Context) -> dict[str, Any] | None:
    """The app's execution role, when it references secrets: pull, log, and read exactly those."""
    secrets: dict[str, str] = ctx.obj.spec.get("secrets") or {}
    if not secrets:
        return None
    region, account = ctx.aws.region, ctx.aws.account
    resources: dict[str, set[str]] = {"secretsmanager": set(), "ssm": set()}
    for value in secrets.values():
        ref = parse_reference(value)
        if ref is None:  # validated at apply; a stored spec from elsewhere is refused here too
            raise PermanentError(f"Pre-flight: {value!r} is not a secret reference.")
        resources[ref.service].add(ref.policy_resource(region=region, account=account))
    actions = {"secretsmanager": "secretsmanager:GetSecretValue", "ssm": "ssm:GetParameters"}
    statements = [
        {"Effect": "Allow", "Action": actions[service], "Resource": sorted(arns)}
        for service, arns in resources.items()
        if arns
    ]
    document = {"Version": "2012-10-17", "Statement": statements}
    return {"purpose": "exec", "policies": [EXECUTION_POLICY], "inline": {SECRETS_POLICY: document}}


def task_role_desired(ctx: Context) -> dict[str, Any] | None:
    role: dict[str, Any] | None = ctx.obj.spec.get("task_role")
    if not role:
        return None
    inline = {TASK_POLICY: inline_policy(role)} if role.get("statements") else {}
    boundary = getattr(ctx.settings, "task_role_boundary", None)
    return {
        "purpose": "task",
        "policies": sorted(role.get("policies", [])),
        "inline": inline,
        "boundary": boundary,
    }


def _canonical(document: Any) -> str:
    """A policy document compared by content (IAM answers it URL-decoded, as a mapping or as text)."""
    if isinstance(document, str):
        document = json.loads(document)
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


class AppRole:
    """One of the app's roles (`purpose` "exec" or "task"): observe / diff / apply / delete."""

    def __init__(self, purpose: str) -> None:
        self.purpose = purpose
        self.name = f"{purpose}-role"

    def role_name(self, ctx: Context) -> str:
        return naming.app_role(ctx.installation_id, ctx.obj.env or "", ctx.obj.name, self.purpose)

    def observe(self, ctx: Context) -> dict[str, Any] | None:
        name = self.role_name(ctx)
        try:
            role = ctx.aws.call("iam", "get_role", RoleName=name)["Role"]
        except AwsError as e:
            if e.code == "NoSuchEntity":
                return None
            raise
        tags = from_aws(role.get("Tags") or ctx.aws.call("iam", "list_role_tags", RoleName=name).get("Tags"))
        if not is_owned(tags, ctx.installation_id, app=ctx.obj.name, env=ctx.obj.env):
            raise PermanentError(f"IAM role {name} exists but is not managed by this Cloudfauj installation.")
        attached = ctx.aws.call("iam", "list_attached_role_policies", RoleName=name)["AttachedPolicies"]
        inline = {}
        for policy in ctx.aws.call("iam", "list_role_policies", RoleName=name)["PolicyNames"]:
            found = ctx.aws.call("iam", "get_role_policy", RoleName=name, PolicyName=policy)
            inline[policy] = _canonical(found["PolicyDocument"])
        return {
            "arn": role["Arn"],
            "policies": sorted(p["PolicyArn"] for p in attached),
            "inline": inline,
            "boundary": (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        }

    def diff(self, desired: dict[str, Any] | None, observed: dict[str, Any] | None) -> list[Change]:
        if desired is None:
            return [Change(f"role {observed['arn']}", "delete")] if observed is not None else []
        want = {
            "policies": desired["policies"],
            "inline": {k: _canonical(v) for k, v in desired["inline"].items()},
        }
        if desired.get("boundary") or (observed or {}).get("boundary"):  # the task role's limit
            want["boundary"] = desired.get("boundary")
        if observed is None:
            return [Change(self.name, "create", {k: (None, v) for k, v in want.items()})]
        fields = {k: (observed[k], v) for k, v in want.items() if observed[k] != v}
        return [Change(f"role {observed['arn']}", "update", fields)] if fields else []

    def apply(self, ctx: Context, desired: dict[str, Any], observed: dict[str, Any] | None) -> str:
        """Create or correct the role; its ARN."""
        name = self.role_name(ctx)
        if observed is None:
            what = "reads its secrets" if self.purpose == "exec" else "is assumed by its containers"
            boundary = {"PermissionsBoundary": desired["boundary"]} if desired.get("boundary") else {}
            role = ctx.mutate(
                "iam",
                "create_role",
                resource=f"role {name}",
                RoleName=name,
                Path=ROLE_PATH,
                AssumeRolePolicyDocument=json.dumps(TRUST),
                Description=f"Cloudfauj: {what} (application {ctx.obj.name} in {ctx.obj.env})",
                Tags=as_ec2(ctx.aws.tags("Application", env=ctx.obj.env, app=ctx.obj.name)),
                **boundary,
            )["Role"]
            observed = {"arn": role["Arn"], "policies": [], "inline": {}, "boundary": desired.get("boundary")}
        if desired.get("boundary") and observed.get("boundary") != desired["boundary"]:
            ctx.mutate(
                "iam",
                "put_role_permissions_boundary",
                resource=f"role {name}",
                RoleName=name,
                PermissionsBoundary=desired["boundary"],
            )
        elif observed.get("boundary") and not desired.get("boundary"):
            ctx.mutate("iam", "delete_role_permissions_boundary", resource=f"role {name}", RoleName=name)
        for arn in sorted(set(desired["policies"]) - set(observed["policies"])):
            ctx.mutate("iam", "attach_role_policy", resource=f"role {name}", RoleName=name, PolicyArn=arn)
        for arn in sorted(set(observed["policies"]) - set(desired["policies"])):
            ctx.mutate("iam", "detach_role_policy", resource=f"role {name}", RoleName=name, PolicyArn=arn)
        for policy, document in desired["inline"].items():
            if observed["inline"].get(policy) != _canonical(document):
                ctx.mutate(
                    "iam",
                    "put_role_policy",
                    resource=f"role {name}",
                    RoleName=name,
                    PolicyName=policy,
                    PolicyDocument=json.dumps(document),
                )
        for policy in sorted(set(observed["inline"]) - set(desired["inline"])):
            ctx.mutate("iam", "delete_role_policy", resource=f"role {name}", RoleName=name, PolicyName=policy)
        return str(observed["arn"])

    def delete(self, ctx: Context, observed: dict[str, Any]) -> None:
        """Only a role `observe` found ours: detach, drop inline policies, delete."""
        name = self.role_name(ctx)
        for arn in observed["policies"]:
            ctx.mutate("iam", "detach_role_policy", resource=f"role {name}", RoleName=name, PolicyArn=arn)
        for policy in observed["inline"]:
            ctx.mutate("iam", "delete_role_policy", resource=f"role {name}", RoleName=name, PolicyName=policy)
        ctx.mutate("iam", "delete_role", resource=f"role {name}", RoleName=name)
