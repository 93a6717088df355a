"""Many clients at once, through the real server and CLI processes: twenty applies of different images to one
application, sent together, end with exactly the last accepted generation running — every earlier
deployment superseded (or finished before the next arrived), none left half-applied beside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.harness import MANIFESTS, Stack, wait_for

pytestmark = pytest.mark.e2e

APPLIES = 20
APP = MANIFESTS / "nginx_api" / ".cloudfauj.yml"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    st = Stack(tmp_path).start()
    yield st
    st.stop()


def test_twenty_concurrent_applies_to_one_app_end_with_the_last_accepted_generation_running(
    stack: Stack,
) -> None:
    st = stack
    assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml")).code == 0
    images = [f"public.ecr.aws/nginx/nginx:1.{i}" for i in range(APPLIES)]  # outside ECR: pullable

    def apply(image: str) -> list[dict[str, object]]:
        r = st.cf("apply", "-f", str(APP), "--env", "staging", "--image", image, "--no-wait", "-o", "json")
        assert r.code == 0, str(r)
        records: list[dict[str, object]] = r.json()
        return records

    with ThreadPoolExecutor(APPLIES) as pool:
        opened = [r for records in pool.map(apply, images) for r in records]
    assert len(opened) == APPLIES  # every apply changed the spec, so every one opened a deployment

    def settled() -> list[dict[str, str]] | None:
        rows: list[dict[str, str]] = st.cf_json("get", "deployments", "--app", "nginx_api")
        return None if any(d["status"] in ("pending", "in_progress") for d in rows) else rows

    rows = wait_for(settled, timeout=180, what="every deployment to end")
    app = st.cf_json("get", "application", "nginx_api", "--env", "staging")
    assert app["metadata"]["generation"] == APPLIES and app["status"]["phase"] == "ready", app
    assert sorted(int(d["generation"]) for d in rows) == list(range(1, APPLIES + 1))
    last = max(rows, key=lambda d: int(d["generation"]))
    assert last["status"] == "succeeded", last
    assert last["image"] == app["spec"]["image"], "the last accepted generation is the object's spec"
    earlier = [d for d in rows if d is not last]
    assert {d["status"] for d in earlier} <= {"superseded", "succeeded"}, [d["status"] for d in earlier]

    (svc,) = st.services("staging")  # one service: no generation left a second one behind
    assert st.image_of(svc) == last["image"]
    (primary,) = [d for d in svc["deployments"] if d["status"] == "PRIMARY"]
    assert primary["taskDefinition"] == svc["taskDefinition"] and primary["rolloutState"] == "COMPLETED"
    assert len(svc["deployments"]) == 1, "an older rollout is still running beside the last one"
    assert app["status"]["outputs"]["task_definition_arn"] == svc["taskDefinition"]
    groups = st.aws("ec2").describe_security_groups(
        Filters=[{"Name": "tag:cloudfauj:app", "Values": ["nginx_api"]}]
    )["SecurityGroups"]
    assert len(groups) == 1
