"""The AWS call budget end to end: with AWS's throttling emulated in the sandbox, 30 apps redeployed at
once all succeed without a single throttled call, within what the task-definition bucket allows."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.e2e.harness import MANIFESTS, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

APPS = 30
APP = """apiVersion: cloudfauj.dev/v1
kind: Application
metadata: {{name: app{i:02d}, env: staging}}
spec:
  image: nginx:{tag}
  resources: {{cpu: 256, memory: 512, network: {{bind_port: 80}}}}
"""


def write(st: Stack, tag: str, count: int) -> Path:
    path = st.workdir / f"apps-{tag}-{count}.yml"
    path.write_text("---\n".join(APP.format(i=i, tag=tag) for i in range(count)))
    return path


def throttled(st: Stack) -> float:
    text = st.api("GET", "/metrics").text
    return sum(
        float(v)
        for v in re.findall(r'cloudfauj_aws_calls_total\{[^}]*outcome="throttled"[^}]*\} (\S+)', text)
    )


def test_thirty_apps_redeploy_at_once_paced_by_the_budget_never_throttled(tmp_path: Path) -> None:
    st = Stack(tmp_path, rollout_seconds=1, server_args=("--sandbox-throttle",)).start()
    try:
        assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml")).code == 0
        r = st.cf("apply", "-f", str(write(st, "1.26", APPS)), timeout=600)
        assert r.code == 0, str(r)
        refill = 20 / 0.95 + 1  # the task-definition bucket (20 burst, 1 per s; the budget runs at 95 %)

        time.sleep(refill)
        start = time.monotonic()
        assert st.cf("apply", "-f", str(write(st, "1.27", 1))).code == 0
        single = time.monotonic() - start

        time.sleep(refill)
        start = time.monotonic()
        r = st.cf("apply", "-f", str(write(st, "1.28", APPS)), timeout=600)
        many = time.monotonic() - start
        assert r.code == 0, str(r)
        bound = 1.2 * ((APPS - 20) / 1 + single)
        assert many <= bound, (
            f"{APPS} apps took {many:.1f} s; the buckets allow {bound:.1f} s (1 app: {single:.1f} s)"
        )
        deployments = st.cf_json("get", "deployments", "--limit", str(APPS))
        assert {d["status"] for d in deployments} == {"succeeded"} and len(deployments) == APPS
        assert throttled(st) == 0
    finally:
        st.stop()
