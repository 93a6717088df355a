"""Slow end-to-end scenarios: a server killed mid-deployment resumes it, and a third-party client (the AWS
CLI) sees the sandbox's ECS behave like ECS.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import MANIFESTS, REGION, Stack, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def split_stack(tmp_path: Path) -> Iterator[Stack]:
    # A separate emulator process and slow rollouts, so the server can die while a rollout is running.
    st = Stack(tmp_path, separate_sandbox=True, rollout_seconds=6).start()
    yield st
    st.stop()


def test_a_server_killed_mid_deployment_finishes_it_after_restart_without_duplicates(
    split_stack: Stack,
) -> None:
    st = split_stack
    assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml")).code == 0
    image = st.push("nginx", "v1")
    r = st.cf("deploy", "--env", "staging", image, "--no-wait", cwd=MANIFESTS / "nginx_api")
    assert r.code == 0, str(r)

    def in_progress() -> bool:
        rows = st.cf_json("get", "deployments")
        return (
            bool(rows) and rows[0]["status"] == "in_progress" and "create_service" in str(rows[0]["events"])
        )

    wait_for(in_progress, what="the deployment to be rolling out")
    st.kill("server")
    st.start_server()

    def finished() -> dict[str, str] | None:
        rows = st.cf_json("get", "deployments")
        return rows[0] if rows[0]["status"] not in ("pending", "in_progress") else None

    d = wait_for(finished, what="the resumed deployment to finish")
    assert d["status"] == "succeeded", d
    assert len(st.cf_json("get", "deployments")) == 1
    services = st.services("staging")
    assert len(services) == 1 and st.image_of(services[0]) == image
    ec2, ecs = st.aws("ec2"), st.aws("ecs")
    groups = ec2.describe_security_groups(Filters=[{"Name": "tag:cloudfauj:app", "Values": ["nginx_api"]}])
    assert len(groups["SecurityGroups"]) == 1
    clusters = ecs.describe_clusters(clusters=ecs.list_clusters()["clusterArns"])["clusters"]
    assert len([c for c in clusters if c["status"] == "ACTIVE"]) == 1
    assert len(ec2.describe_vpcs(Filters=[{"Name": "tag:cloudfauj:env", "Values": ["staging"]}])["Vpcs"]) == 1


def test_aws_cli_waits_for_a_deployed_service_to_be_stable(tmp_path: Path) -> None:
    aws = os.environ.get("CLOUDFAUJ_TEST_AWSCLI")
    assert aws, (
        "run the suite with scripts/test.sh, which installs awscli in a virtual environment of its own"
    )
    st = Stack(tmp_path).start()
    try:
        assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml")).code == 0
        image = st.push("nginx", "v1")
        assert st.cf("deploy", "--env", "staging", image, cwd=MANIFESTS / "nginx_api").code == 0
        cluster = st.cluster("staging")
        assert cluster is not None
        r = subprocess.run(
            [
                aws,
                "ecs",
                "wait",
                "services-stable",
                "--cluster",
                cluster["clusterName"],
                "--services",
                "nginx_api",
                "--endpoint-url",
                st.endpoint,
                "--region",
                REGION,
            ],
            env=st.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        tasks = subprocess.run(
            [
                aws,
                "ecs",
                "list-tasks",
                "--cluster",
                cluster["clusterName"],
                "--service-name",
                "nginx_api",
                "--endpoint-url",
                st.endpoint,
                "--region",
                REGION,
                "--output",
                "json",
            ],
            env=st.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert tasks.returncode == 0 and tasks.stdout.count("arn:aws:ecs") == 1, tasks.stdout + tasks.stderr
    finally:
        st.stop()


def test_an_in_process_sandbox_that_restarts_empty_is_repaired_like_any_drift(tmp_path: Path) -> None:
    st = Stack(tmp_path).start()
    try:
        app = tmp_path / "app.yml"
        app.write_text((MANIFESTS / "nginx_api" / ".cloudfauj.yml").read_text())
        assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml")).code == 0
        # An image outside ECR: the emulator treats it as pullable, and it survives the emulator's restart.
        assert (
            st.cf("deploy", "--env", "staging", "public.ecr.aws/nginx/nginx:1.27", "--config", str(app)).code
            == 0
        )
        st.kill("server")
        st.start_server()  # a new, empty emulator: every AWS resource is gone, the store remembers them

        def repaired() -> bool:
            rows = st.cf_json("get", "records")
            drift = [r for r in rows if r["cause"] == "drift"]
            return len(drift) == 2 and all(r["status"] == "succeeded" for r in drift)

        wait_for(repaired, what="drift records that recreate the environment and the app")
        (svc,) = st.services("staging")
        assert st.image_of(svc) == "public.ecr.aws/nginx/nginx:1.27"
        assert {r["status"] for r in st.cf_json("get", "records")} == {"succeeded"}
    finally:
        st.stop()
