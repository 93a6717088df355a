"""Chaos: twenty deployments across five applications while the server is SIGKILLed and restarted five times
at random (seeded) moments. The emulator is a process of its own and survives. In the end every record has
ended, each application runs its last generation, and what carries our tag in AWS is exactly what the
live objects own: no orphan, no duplicate.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.harness import MANIFESTS, Stack, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SEED = 20240611
APPS = [f"app{i}" for i in range(5)]
ROUNDS = 4  # 4 rounds x 5 apps = 20 deployments
KILLS = 5
UNREACHABLE = 3  # the CLI's exit code while the server is down


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    st = Stack(tmp_path, separate_sandbox=True, rollout_seconds=2).start()
    yield st
    st.stop()


def manifest(tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.yml"
    path.write_text(
        "apiVersion: cloudfauj.dev/v1\n"
        "kind: Application\n"
        f"metadata: {{name: {name}, env: staging}}\n"
        "spec:\n"
        "  image: public.ecr.aws/nginx/nginx:placeholder\n"
        "  healthcheck: {path: /}\n"
        "  resources: {cpu: 256, memory: 512, network: {bind_port: 80}}\n"
    )
    return path


def image(round_: int) -> str:
    return f"public.ecr.aws/nginx/nginx:1.{round_}"  # outside ECR: the emulator treats it as pullable


def test_twenty_deployments_survive_five_server_kills_without_a_leak_or_a_duplicate(
    stack: Stack, tmp_path: Path
) -> None:
    st = stack
    pauses, moments = random.Random(SEED), random.Random(SEED + 1)  # one per thread: reproducible
    assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml")).code == 0
    files = {name: manifest(tmp_path, name) for name in APPS}

    def apply(name: str, round_: int) -> None:
        """Apply like a CI job that retries while the server is down."""
        deadline = time.monotonic() + 120
        while True:
            r = st.cf("apply", "-f", str(files[name]), "--image", image(round_), "--no-wait")
            if r.code == 0:
                return
            assert r.code == UNREACHABLE and time.monotonic() < deadline, str(r)
            time.sleep(0.3)

    kills: list[float] = []

    def killer() -> None:
        for _ in range(KILLS):
            time.sleep(moments.uniform(1.0, 6.0))
            kills.append(time.monotonic())
            st.kill("server")  # SIGKILL: no shutdown, no outcome written for attempts in flight
            st.start_server()

    chaos = threading.Thread(target=killer, name="killer")
    chaos.start()
    with ThreadPoolExecutor(len(APPS)) as pool:
        for round_ in range(ROUNDS):
            list(pool.map(apply, APPS, [round_] * len(APPS)))
            time.sleep(pauses.uniform(0.5, 3.0))
    chaos.join()
    assert len(kills) == KILLS

    def settled() -> list[dict[str, str]] | None:
        rows: list[dict[str, str]] = st.cf_json("get", "records")
        return None if any(r["status"] in ("pending", "in_progress") for r in rows) else rows

    records = wait_for(settled, timeout=150, every=1, what="every record to end")
    deployments = [r for r in records if r["kind"] == "Application"]
    assert {r["status"] for r in records} <= {"succeeded", "superseded"}, [
        (r["id"], r["name"], r["status"], r["reason"]) for r in records if r["status"] == "failed"
    ]
    apps = {a["metadata"]["name"]: a for a in st.cf_json("get", "applications")}
    assert sorted(apps) == APPS

    services = {s["serviceName"]: s for s in st.services("staging")}
    assert sorted(services) == APPS  # one service per app, none twice
    for name, obj in apps.items():
        last = max((d for d in deployments if d["name"] == name), key=lambda d: int(d["generation"]))
        assert int(last["generation"]) == obj["metadata"]["generation"] and last["status"] == "succeeded"
        assert obj["spec"]["image"] == image(ROUNDS - 1) == last["image"]
        svc = services[name]
        (primary,) = svc["deployments"]
        assert primary["status"] == "PRIMARY" and primary["rolloutState"] == "COMPLETED"
        assert (
            primary["taskDefinition"]
            == svc["taskDefinition"]
            == obj["status"]["outputs"]["task_definition_arn"]
        )
        assert st.image_of(svc) == image(ROUNDS - 1)

    assert owned_by_live_objects(st, apps) == expected(apps)
    r = st.cf("gc", "--dry-run", "-o", "json")
    assert r.code == 0 and r.json()["orphans"] == [], str(r)


def expected(apps: dict[str, object]) -> Counter[tuple[str, str]]:
    """What the live objects own: the environment's resources once, each app's once (a task definition
    family, however many revisions its generations registered)."""
    env = {
        "ec2:vpc": 1,
        "ec2:internet-gateway": 1,
        "ec2:route-table": 1,
        "ec2:subnet": 2,
        "ecs:cluster": 1,
        "logs:log-group": 1,
        "iam:role": 1,
    }
    owned: Counter[tuple[str, str]] = Counter({("staging", t): n for t, n in env.items()})
    for name in apps:
        for kind in ("ec2:security-group", "ecs:service", "ecs:task-definition-family"):
            owned[(f"staging/{name}", kind)] = 1
    return owned


def owned_by_live_objects(st: Stack, apps: dict[str, object]) -> Counter[tuple[str, str]]:
    """Everything carrying our tag (`Stack.tagged`), counted by owner and type; task definitions by
    family. Anything whose owner is not a live object shows up under its own owner and fails the test."""
    tagging = st.aws("resourcegroupstaggingapi")
    tags_of = {
        m["ResourceARN"]: {t["Key"]: t["Value"] for t in m["Tags"]}
        for page in tagging.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": "cloudfauj:managed-by", "Values": [st.installation_id()]}]
        )
        for m in page["ResourceTagMappingList"]
    }
    found: Counter[tuple[str, str]] = Counter()
    revisions: Counter[tuple[str, str]] = Counter()
    for arn in st.tagged():
        if ":task/" in arn:
            continue  # running tasks carry their service's tags
        service, rest = arn.split(":")[2], arn.split(":", 5)[5]
        kind = f"{service}:{rest.split('/')[0].split(':')[0]}"
        tags = tags_of.get(arn) or role_tags(st, arn)  # IAM roles are not in the tagging API
        owner = tags["cloudfauj:env"]
        if "cloudfauj:app" in tags:
            owner = f"{owner}/{tags['cloudfauj:app']}"
        if kind == "ecs:task-definition":
            revisions[(owner, rest.split("/")[1].rsplit(":", 1)[0])] += 1
            continue
        found[(owner, kind)] += 1
    for (owner, family), count in revisions.items():
        assert count <= ROUNDS, f"{family}: {count} revisions for {ROUNDS} generations"
        found[(owner, "ecs:task-definition-family")] += 1
    return found


def role_tags(st: Stack, arn: str) -> dict[str, str]:
    if ":role/" not in arn:
        return {}
    tags = st.aws("iam").list_role_tags(RoleName=arn.rsplit("/", 1)[-1])["Tags"]
    return {t["Key"]: t["Value"] for t in tags}
