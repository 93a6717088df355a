"""Manifest text shared by the GitOps end-to-end tests (watch, directory sync, dashboard)."""

from __future__ import annotations

ENVIRONMENT = """\
apiVersion: cloudfauj.dev/v1
kind: Environment
metadata: {name: %(env)s}
spec: {network: aws, orchestrator: aws_ecs_fargate}
"""

APPLICATION = """\
apiVersion: cloudfauj.dev/v1
kind: Application
metadata: {name: %(name)s, env: %(env)s}
spec:
  image: %(image)s
  healthcheck: {path: /}
  resources: {cpu: 256, memory: 512, network: {bind_port: 80}}
"""


def environment(env: str) -> str:
    return ENVIRONMENT % {"env": env}


def application(name: str, env: str, image: str) -> str:
    return APPLICATION % {"name": name, "env": env, "image": image}
