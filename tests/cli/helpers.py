"""Shared by the CLI tests: sample manifests, the result of one CLI run, and a file writer."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


CF = Callable[..., Result]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


ENV = "name: demo\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
APP = "name: web\ntype: server\nvisibility: public\n"
DOMAIN = "name: example.com\ndns_service: aws_route53\ncert_authority: aws_acm\n"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1"
MISSING = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:missing"
