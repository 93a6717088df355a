"""AWS faults end to end: a server whose embedded emulator throttles 30 % of AWS calls and fails 5 % with
HTTP 500 (half of those after the call took effect) still converges an environment and a batch of
applications applied together — every record succeeds, the records' events show the retries, and AWS
holds exactly what the objects own, no duplicate from a create whose answer was lost.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FAULTS = "throttle=0.3,error=0.05,seed=7"
ENV = "chaos"
APPS = [f"web{i}" for i in range(1, 5)]
# What one environment and one application own, by the resource type in the ARN.
ENV_OWNS = {
    "vpc": 1,
    "subnet": 2,
    "internet-gateway": 1,
    "route-table": 1,
    "cluster": 1,
    "log-group": 1,
    "role": 1,
}
APP_OWNS = {"security-group": 1, "task-definition": 1, "service": 1}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    st = Stack(tmp_path, sandbox_faults=FAULTS).start()
    yield st
    st.stop()


def manifest(images: dict[str, str]) -> str:
    docs = [
        "apiVersion: cloudfauj.dev/v1\nkind: Environment\n"
        f"metadata: {{name: {ENV}}}\nspec: {{network: aws, orchestrator: aws_ecs_fargate}}\n"
    ]
    for app, image in images.items():
        docs.append(
            "apiVersion: cloudfauj.dev/v1\nkind: Application\n"
            f"metadata: {{name: {app}, env: {ENV}}}\n"
            f"spec:\n  image: {image}\n  healthcheck: {{path: /}}\n"
            "  resources: {cpu: 256, memory: 512, network: {bind_port: 80}}\n"
        )
    return "---\n".join(docs)


def resource_type(arn: str) -> str:
    """`vpc`, `subnet`, `service`, … from an ARN (`arn:aws:ec2:…:vpc/vpc-1`, `arn:aws:logs:…:log-group:x`)."""
    resource = arn.split(":", 5)[5]
    return resource.split("/", 1)[0].split(":", 1)[0]


def owned_by(st: Stack, **scope: str) -> Counter[str]:
    """The types of the resources carrying our tags (and `cloudfauj:<key>=<value>` for `scope`), ECS tasks
    and deleted ECS resources left out."""
    inst = st.installation_id()
    filters = [{"Key": "cloudfauj:managed-by", "Values": [inst]}]
    filters += [{"Key": f"cloudfauj:{k}", "Values": [v]} for k, v in scope.items()]
    arns = [
        m["ResourceARN"]
        for page in st.aws("resourcegroupstaggingapi")
        .get_paginator("get_resources")
        .paginate(TagFilters=filters)
        for m in page["ResourceTagMappingList"]
    ]
    ours = [a for a in st.tagged() if a in arns or (not scope and ":role/" in a)]
    return Counter(resource_type(a) for a in ours if resource_type(a) != "task")


def test_a_batch_converges_through_throttling_and_5xx_without_duplicates(stack: Stack) -> None:
    st, started = stack, time.monotonic()
    images = {app: st.push(f"faults/{app}", "v1") for app in APPS}
    path = st.workdir / "batch.yml"
    path.write_text(manifest(images))

    r = st.cf("apply", "-f", str(path), "--timeout", "150")
    assert r.code == 0, f"{r}\n--- server log\n{st.log('server')}"
    elapsed = time.monotonic() - started

    records = st.cf_json("get", "records")
    assert sorted((rec["kind"], rec["name"], rec["status"]) for rec in records) == sorted(
        [("Environment", ENV, "succeeded")] + [("Application", app, "succeeded") for app in APPS]
    )
    events: dict[str, list[dict[str, Any]]] = {
        rec["name"]: st.cf_json("describe", "record", rec["id"])["events"] for rec in records
    }
    retries = [e["message"] for evs in events.values() for e in evs if e["message"].startswith("Retry ")]
    assert retries, "the records' events should show the retries"
    assert all(e["type"] == "warning" for evs in events.values() for e in evs if e["message"] in retries)

    assert owned_by(st, env=ENV, kind="Environment") + Counter({"role": 1}) == Counter(ENV_OWNS)
    for app in APPS:
        assert owned_by(st, app=app) == Counter(APP_OWNS), app
    expected = Counter(ENV_OWNS) + Counter({k: v * len(APPS) for k, v in APP_OWNS.items()})
    assert owned_by(st) == expected
    services = {s["serviceName"]: s for s in st.services(ENV)}
    assert sorted(services) == APPS
    assert {app: st.image_of(svc) for app, svc in services.items()} == images

    faults = httpx.get(f"{st.endpoint}/_sandbox/faults").json()["counts"]
    assert faults["throttled"] > 0 and faults.get("errors", 0) + faults.get("errors_after_effect", 0) > 0
    print(  # the figures, for whoever runs this with -s
        f"\nfaults: {faults['calls']} AWS calls, {faults['throttled']} throttled, "
        f"{faults.get('errors', 0)} 500s before and {faults.get('errors_after_effect', 0)} after the effect; "
        f"{len(retries)} retries in the records' events; converged in {elapsed:.1f} s"
    )
    assert elapsed < 120
