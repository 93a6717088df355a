"""The IAM policy the server needs (docs/iam-policy.json, listed in the README) covers every AWS action
the server's code calls — found by reading the code, so a new call without a policy change fails here.

Calls go through `Gateway.call/paginate` and `Context.mutate` with the service and operation as string
literals; the few helpers that forward an operation are listed in FORWARDERS, and any other call whose
service or operation is not a literal fails the test (it could not be checked).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICY = json.loads((ROOT / "docs" / "iam-policy.json").read_text())
SOURCES = [p for d in ("cloudfauj", "controllers") for p in (ROOT / d).rglob("*.py")]
SKIPPED = ("sandbox", "cli")  # the emulator and the CLI never call AWS for the server
GATEWAY_METHODS = ("call", "paginate", "mutate")
#: functions that take an operation of a fixed service as their argument at `position`
WRAPPERS = {"_delete_ec2": ("ec2", 1)}
#: where a non-literal operation is forwarded, not chosen
FORWARDERS = {
    ("cloudfauj/aws/gateway.py", "call"),
    ("cloudfauj/aws/gateway.py", "paginate"),
    ("controllers/base.py", "mutate"),
    ("controllers/network.py", "_delete_ec2"),
}
IAM_PREFIX = {"elbv2": "elasticloadbalancing", "resourcegroupstaggingapi": "tag"}
#: what AWS also checks when a create call carries tags (tag-on-create needs the tagging permission)
TAGGING = {
    "ec2": "ec2:CreateTags",
    "elbv2": "elasticloadbalancing:AddTags",
    "ecs": "ecs:TagResource",
    "logs": "logs:TagResource",
    "acm": "acm:AddTagsToCertificate",
    "iam": "iam:TagRole",
    "servicediscovery": "servicediscovery:TagResource",
    "application-autoscaling": "application-autoscaling:TagResource",
}
#: what AWS checks on the caller for what a call does on its behalf: target-tracking policies create and
#: delete their CloudWatch alarms; Application Auto Scaling creates its ECS service-linked role
ON_OUR_BEHALF = {
    "iam:CreateServiceLinkedRole",
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:DeleteAlarms",
}
TAG_KEYWORDS = ("TagSpecifications", "Tags", "tags")


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _enclosing_functions(tree: ast.AST) -> dict[ast.AST, str]:
    owner: dict[ast.AST, str] = {}
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(fn):
                owner[node] = fn.name  # functions come outer first, so the innermost one wins
    return owner


def scan() -> tuple[set[tuple[str, str, bool]], list[str]]:
    """Every (service, operation, tagged) called, and the calls that could not be read."""
    found: set[tuple[str, str, bool]] = set()
    unreadable: list[str] = []
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        if any(part in SKIPPED for part in path.relative_to(ROOT).parts):
            continue
        tree = ast.parse(path.read_text())
        owner = _enclosing_functions(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            tagged = any(k.arg in TAG_KEYWORDS for k in node.keywords)
            if name in WRAPPERS:
                service, position = WRAPPERS[name]
                op = _literal(node.args[position]) if len(node.args) > position else None
                if op is not None:
                    found.add((service, op, tagged))
                elif (rel, owner.get(node)) not in FORWARDERS:
                    unreadable.append(f"{rel}:{node.lineno}")
                continue
            if name not in GATEWAY_METHODS or not isinstance(node.func, ast.Attribute):
                continue
            service, op = (_literal(a) for a in (node.args[:2] + [ast.Constant(None)] * 2)[:2])
            if service and op:
                found.add((service, op, tagged))
            elif (rel, owner.get(node)) not in FORWARDERS:
                unreadable.append(f"{rel}:{node.lineno}")
    return found, unreadable


def iam_action(service: str, operation: str) -> str:
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return f"{IAM_PREFIX.get(service, service)}:{client.meta.method_to_api_mapping[operation]}"


def needed() -> set[str]:
    calls, _ = scan()
    actions = {iam_action(s, op) for s, op, _ in calls}
    actions |= {TAGGING[s] for s, _, tagged in calls if tagged and s in TAGGING}
    if ("ecs", "register_task_definition", False) in calls or (
        "ecs",
        "register_task_definition",
        True,
    ) in calls:
        actions.add("iam:PassRole")  # the task execution role
    return actions


def granted() -> set[str]:
    return {a for statement in POLICY["Statement"] for a in statement["Action"]}


def test_every_call_can_be_read() -> None:
    calls, unreadable = scan()
    assert not unreadable, f"AWS calls whose service or operation is not a literal: {unreadable}"
    assert len(calls) > 50  # the scan sees the controllers


def test_the_documented_policy_allows_every_action_the_code_calls() -> None:
    missing = needed() - granted()
    assert not missing, f"add these actions to docs/iam-policy.json and the README: {sorted(missing)}"


def test_the_policy_grants_actions_by_name_and_the_readme_lists_each() -> None:
    readme = (ROOT / "README.md").read_text()
    assert not [a for a in granted() if "*" in a]
    assert not [a for a in granted() if a not in readme], "every action of the policy is listed in the README"
    unused = granted() - needed() - ON_OUR_BEHALF - {"logs:TagLogGroup", "logs:ListTagsForResource"}
    assert not unused, f"actions granted but never called (drop them, or say why): {sorted(unused)}"


@pytest.mark.parametrize(("service", "operation"), [("ec2", "create_vpc"), ("elbv2", "create_rule")])
def test_operations_map_to_iam_action_names(service: str, operation: str) -> None:
    assert iam_action(service, operation) in {"ec2:CreateVpc", "elasticloadbalancing:CreateRule"}


def test_the_role_statements_match_the_path_our_roles_are_created_under() -> None:
    source = (ROOT / "controllers" / "environment.py").read_text()
    path = source.split('Path="', 1)[1].split('"', 1)[0]  # e.g. /cloudfauj/
    resources = {s["Resource"] for s in POLICY["Statement"] if any(a.startswith("iam:") for a in s["Action"])}
    scoped = {r for r in resources if r != "*"}
    assert scoped and all(r.endswith(f":role{path}cf-*") for r in scoped), resources
