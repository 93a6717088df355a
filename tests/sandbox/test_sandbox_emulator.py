"""The emulator itself: start/stop, `serve`, pushing images, and the managed IAM policy moto lacks.

The test that resets moto runs last in this module and creates nothing other modules use.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from cloudfauj.sandbox import Sandbox, push_image, rollout
from cloudfauj.sandbox.ecs import Ticker

EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _digest(clients: Any, repo: str, tag: str) -> str:
    images = clients("ecr").describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])["imageDetails"]
    return str(images[0]["imageDigest"])


def test_start_returns_a_loopback_endpoint_and_stop_can_be_called_twice() -> None:
    emulator = Sandbox(port=0, rollout_seconds=0.2)
    endpoint = emulator.start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", endpoint)
        assert emulator.endpoint == endpoint
        with pytest.raises(OSError):
            Sandbox(port=int(endpoint.rsplit(":", 1)[1])).start()  # the port is taken
    finally:
        emulator.stop()
        emulator.stop()


def test_pushing_the_same_image_twice_is_fine_and_returns_its_uri(emulator: Sandbox, clients: Any) -> None:
    uri = push_image(emulator.endpoint, "emulator/web", "v1")
    assert uri == "123456789012.dkr.ecr.us-east-1.amazonaws.com/emulator/web:v1"
    digest = _digest(clients, "emulator/web", "v1")

    assert push_image(emulator.endpoint, "emulator/web", "v1") == uri
    assert _digest(clients, "emulator/web", "v1") == digest
    assert len(clients("ecr").list_images(repositoryName="emulator/web")["imageIds"]) == 1


def test_a_crashing_push_of_a_tag_gets_its_own_digest(emulator: Sandbox, clients: Any) -> None:
    push_image(emulator.endpoint, "emulator/api", "v1")
    normal = _digest(clients, "emulator/api", "v1")
    push_image(emulator.endpoint, "emulator/api", "v1", crash=True)
    crashing = _digest(clients, "emulator/api", "v1")
    push_image(emulator.endpoint, "emulator/api", "v2")

    assert crashing != normal
    assert _digest(clients, "emulator/api", "v2") not in (normal, crashing)


def test_serve_prints_its_endpoint_and_stops_cleanly_on_sigterm() -> None:
    code = "from cloudfauj.sandbox import serve; serve(port=0, rollout_seconds=1.5)"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=root, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.fullmatch(
            r"sandbox: AWS emulator at (http://127\.0\.0\.1:\d+) \(rollouts take 1\.5 s\)\n", line
        )
        assert match, line
        ecs = boto3.client(
            "ecs",
            endpoint_url=match[1],
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        assert ecs.list_clusters()["clusterArns"] == []

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stderr.read() == ""  # no access log, no traceback
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_rollout_ticker_keeps_ticking_after_a_failing_step(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    steps: list[float] = []

    def flaky_tick(now: float) -> None:
        steps.append(now)
        if len(steps) == 1:
            raise RuntimeError("a bug in one service's simulation")

    monkeypatch.setattr(rollout, "tick", flaky_tick)
    ticker = Ticker(interval=0.01)
    ticker.start()
    try:
        deadline = time.monotonic() + 5
        while len(steps) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        ticker.stop()
    assert len(steps) >= 3
    assert "rollout simulation step failed" in caplog.text


def _attach_execution_policy(clients: Any, role: str) -> list[str]:
    iam = clients("iam")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    iam.attach_role_policy(RoleName=role, PolicyArn=EXECUTION_POLICY)
    return [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]]


def test_the_task_execution_policy_can_be_attached_to_a_role_also_after_a_reset(
    emulator: Sandbox, clients: Any
) -> None:
    assert _attach_execution_policy(clients, "emulator-exec") == [EXECUTION_POLICY]
    document = clients("iam").get_policy_version(PolicyArn=EXECUTION_POLICY, VersionId="v1")["PolicyVersion"][
        "Document"
    ]
    assert "ecr:GetAuthorizationToken" in json.dumps(document)

    reset = urllib.request.Request(f"{emulator.endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=10) as response:
        assert response.status == 200

    assert clients("iam").list_roles()["Roles"] == []
    assert _attach_execution_policy(clients, "emulator-exec") == [EXECUTION_POLICY]
