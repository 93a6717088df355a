"""AWS names derived from manifest names, and the limits they must respect.

Manifest names are lowercase letters, digits, `-` and `_` (upstream's examples use `nginx_api`). AWS names
and hostnames replace `_` with `-`. Every name that is global to an account or region carries the
installation's short id, so two installations (or two environments) in one account never collide.
Pure functions only: the manifest validator uses them to reject names before anything is stored.
"""

from __future__ import annotations

import re

NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$")
NAME_MAX = 63
SHORT_ID_LEN = 6

ALB_MAX = 32
TARGET_GROUP_MAX = 32
IAM_ROLE_MAX = 64


def short_id(installation_id: str) -> str:
    """The part of the installation id that goes into AWS names."""
    return installation_id.replace("-", "")[:SHORT_ID_LEN]


def dns(name: str) -> str:
    """A manifest name as it appears in AWS names and hostnames."""
    return name.replace("_", "-")


def cluster(installation_id: str, env: str) -> str:
    return f"cf-{short_id(installation_id)}-{dns(env)}"


def execution_role(installation_id: str, env: str) -> str:
    return f"cf-{short_id(installation_id)}-{dns(env)}-exec"


def app_role(installation_id: str, env: str, app: str, purpose: str) -> str:
    """An application's own IAM role: `exec` (reads its secrets when a task starts) or `task` (what its
    code may do). Within IAM_ROLE_MAX: environment and application names fit a target group's 32."""
    return f"cf-{short_id(installation_id)}-{dns(env)}-{dns(app)}-{purpose}"


def namespace(env: str) -> str:
    """The environment's private DNS namespace (Cloud Map), resolvable only inside its VPC."""
    return f"{dns(env)}.internal"


def internal_name(env: str, app: str) -> str:
    """A private application's stable name inside its environment's VPC."""
    return f"{dns(app)}.{namespace(env)}"


def log_group(env: str) -> str:
    return f"/cloudfauj/{env}"


def env_resource(env: str, what: str) -> str:
    """The Name tag of an environment's network resources (VPC, subnets, gateway, route table)."""
    return f"cf-{dns(env)}-{what}"


def app_security_group(installation_id: str, env: str, app: str) -> str:
    return f"cf-{short_id(installation_id)}-{dns(env)}-{dns(app)}"


def task_family(installation_id: str, env: str, app: str) -> str:
    return f"cf-{short_id(installation_id)}-{dns(env)}-{dns(app)}"


def service(app: str) -> str:
    """The ECS service name: the app name verbatim (ECS allows `_`), unique within the env's cluster."""
    return app


def container(app: str) -> str:
    return app


def load_balancer(installation_id: str, env: str) -> str:
    return f"{dns(env)}-{short_id(installation_id)}"


def target_group(installation_id: str, env: str, app: str) -> str:
    return f"{dns(env)}-{dns(app)}-{short_id(installation_id)}"


def hostname(env: str, app: str, domain: str) -> str:
    return f"{dns(env)}-{dns(app)}.{domain}"


_PLACEHOLDER = "0" * SHORT_ID_LEN


def env_name_problems(env: str) -> list[str]:
    """Why `env` cannot name an environment (empty when it can)."""
    alb = load_balancer(_PLACEHOLDER, env)
    if len(alb) > ALB_MAX:
        return [
            f"environment name '{env}' is too long: its load balancer name '{alb}' would have "
            f"{len(alb)} characters and AWS allows at most {ALB_MAX} "
            f"(keep environment names within {ALB_MAX - SHORT_ID_LEN - 1} characters)"
        ]
    return []


def app_name_problems(env: str, app: str) -> list[str]:
    """Why `app` cannot name an application in `env` (empty when it can)."""
    tg = target_group(_PLACEHOLDER, env, app)
    if len(tg) > TARGET_GROUP_MAX:
        budget = TARGET_GROUP_MAX - SHORT_ID_LEN - 2
        return [
            f"application name '{app}' is too long for environment '{env}': its target group name "
            f"'{tg}' would have {len(tg)} characters and AWS allows at most {TARGET_GROUP_MAX} "
            f"(keep environment and application names within {budget} characters together)"
        ]
    return []
