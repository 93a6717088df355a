"""The naming rules of manifests: object names, DNS names, and the AWS names derived from them.

Pure functions returning a message (or None), so the pydantic models, the batch checks and the API
server (which compares a batch with stored objects) all say the same thing. The AWS names themselves
and their length budgets live in `controllers.naming`; this module only turns them into input rules.
"""

from __future__ import annotations

import re

from controllers import naming

__all__ = [
    "DNS_NAME_MAX",
    "NAME_MESSAGE",
    "app_collision_key",
    "app_name_problems",
    "dns_name_problem",
    "env_collision_key",
    "env_name_problems",
    "name_problem",
    "shown",
]

NAME_MESSAGE = "must be lowercase letters, digits, '-' and '_', starting and ending with a letter or digit"
DNS_NAME_MAX = 253
_DNS_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def shown(value: object, limit: int = 60) -> str:
    """`value` as a message quotes it: `ascii()`, so that invisible characters (a zero-width space, an RTL
    override) and look-alikes (a Cyrillic 'а' in 'stаging') show as escapes; cut short when long, so that
    a 10 KB value does not make a 10 KB sentence."""
    text = ascii(value)
    if len(text) <= limit:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[: limit - 2]}…{text[-1] if isinstance(value, str) else ''}{size}"


def name_problem(name: str) -> str | None:
    """Why `name` cannot name an environment or an application (None when it can)."""
    if not naming.NAME_RE.fullmatch(name):  # fullmatch: `$` alone would let a trailing newline through
        return f"{NAME_MESSAGE}, not {shown(name)}"
    if len(name) > naming.NAME_MAX:
        return f"must have at most {naming.NAME_MAX} characters, not {len(name)}"
    return None


def dns_name_problem(name: str) -> str | None:
    """Why `name` cannot name a domain (None when it can): a lowercase DNS name of two labels or more."""
    labels = name.split(".")
    if len(labels) < 2 or not all(_DNS_LABEL_RE.fullmatch(label) for label in labels):
        return (
            "must be a DNS name: lowercase labels of letters, digits and '-' (at most 63 characters "
            f"each, not starting or ending with '-') joined by dots, at least two of them (e.g. "
            f"'example.com'), not {shown(name)}"
        )
    if len(name) > DNS_NAME_MAX:
        return f"must have at most {DNS_NAME_MAX} characters, not {len(name)}"
    return None


def env_name_problems(env: str) -> list[str]:
    """Why `env` cannot name an environment because of the AWS names derived from it."""
    return naming.env_name_problems(env)


def app_name_problems(env: str, app: str) -> list[str]:
    """Why `app` cannot name an application in `env` because of the AWS names derived from them."""
    return naming.app_name_problems(env, app)


def env_collision_key(env: str) -> str:
    """Environments with the same key would get the same AWS names (cluster, load balancer, role)."""
    return naming.dns(env)


def app_collision_key(env: str, app: str) -> str:
    """Applications with the same key would get the same AWS names (security group, task family,
    target group, hostname), even in different environments: `a`/`b-c` and `a-b`/`c` both give
    `a-b-c`. Names that differ only by `_` and `-` in one environment are the common case."""
    return f"{naming.dns(env)}-{naming.dns(app)}"
