"""`Service.diff` with a real SQLite store and a planner that answers from a table: validated like an
apply, each object planned as apply would store it, nothing stored; and how plans become the document
(`cloudfauj.plans`): actions, notes, and images shown as the user wrote them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudfauj.errors import InvalidInput, PermanentError, TemporaryError
from cloudfauj.manifests import Source
from cloudfauj.plans import Planner, shown_image, spec_paths
from cloudfauj.records import StoredObject
from cloudfauj.service import Service
from cloudfauj.settings import Settings
from cloudfauj.store import SqliteStore
from controllers.base import Change

ENV = "name: staging\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
APP = (
    "name: web\ntype: server\nhealthcheck: {path: /}\nvisibility: public\n"
    "resources: {cpu: 256, memory: 512, network: {bind_port: 80}}\n"
)
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
IMAGE = f"{REGISTRY}/web:v1"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


class Harness:
    def __init__(self, tmp: Path) -> None:
        self.store = SqliteStore(tmp / "db")
        self.plans: dict[str, list[Change] | Exception] = {}
        self.planned: list[StoredObject] = []
        self.service = Service(
            self.store, Settings(), enqueue=lambda key: None, ready=lambda: True, plan=self.plan
        )

    def plan(self, obj: StoredObject) -> list[Change]:
        self.planned.append(obj)
        answer = self.plans.get(obj.key, [])
        if isinstance(answer, Exception):
            raise answer
        return answer

    def apply(self, text: str, **kw: Any) -> None:
        args = {"env": None, "image": None, "deadline_seconds": None, "source": None, "force": False}
        self.service.apply([Source("f.yml", text)], initiator=None, **(args | kw))

    def diff(self, text: str, **kw: Any) -> dict[str, Any]:
        return self.service.diff([Source("f.yml", text)], env=kw.get("env"), image=kw.get("image"))


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.store.close()


def test_a_new_environment_is_planned_as_generation_0_and_its_app_waits_for_it(h: Harness) -> None:
    h.plans["Environment/staging"] = [Change("vpc", "create")]
    out = h.diff(APP + "---\n" + ENV, env="staging", image=IMAGE)
    assert out["changed"] is True
    env, app = out["objects"]
    assert (env["kind"], env["action"]) == ("Environment", "create")
    assert env["changes"] == [{"resource": "vpc", "action": "create", "fields": []}]
    assert (app["kind"], app["action"]) == ("Application", "waiting")
    assert app["message"] == "would be created once environment staging is ready"
    assert [(o.key, o.generation) for o in h.planned] == [("Environment/staging", 0)]
    assert h.store.list_objects() == [] and h.store.list_records() == []


def test_a_stored_object_is_planned_with_the_proposed_spec_and_nothing_is_stored(h: Harness) -> None:
    h.apply(ENV)
    h.apply(APP, env="staging", image=IMAGE)
    h.plans["Application/staging/web"] = [Change("service web", "update", {"desiredCount": (1, 3)})]
    out = h.diff(APP + "replicas: 3\n", env="staging", image=IMAGE)
    (app,) = out["objects"]
    assert app["action"] == "update" and app["message"] is None
    assert app["changes"] == [
        {
            "resource": "service web",
            "action": "update",
            "fields": [{"path": "desiredCount", "old": 1, "new": 3}],
        }
    ]
    (planned,) = h.planned
    assert planned.spec["replicas"] == 3 and planned.generation == 1
    stored = h.store.get_object("Application", "staging", "web")
    assert stored is not None and stored.spec["replicas"] == 1 and stored.generation == 1
    assert len(h.store.list_records()) == 2


def test_nothing_to_change_is_unchanged_and_a_spec_only_change_is_an_update(h: Harness) -> None:
    h.apply(ENV)
    h.apply(APP, env="staging", image=IMAGE)
    out = h.diff(ENV + "---\n" + APP, env="staging", image=IMAGE)
    assert out["changed"] is False
    assert [o["action"] for o in out["objects"]] == ["unchanged", "unchanged"]
    out = h.diff(APP.replace("path: /", "path: /ping"), env="staging", image=IMAGE)
    (app,) = out["objects"]
    assert out["changed"] is True and app["action"] == "update" and app["changes"] == []
    assert app["message"] == "no AWS resource would change; the spec would (healthcheck.path)"


def test_plans_that_cannot_be_made_are_waiting_or_blocked_and_count_as_changes(h: Harness) -> None:
    h.apply(ENV)
    h.plans["Environment/staging"] = TemporaryError("Waiting for the VPC.", delay=1)
    (env,) = h.diff(ENV)["objects"]
    assert env["action"] == "waiting"
    assert env["message"] == "would be updated; not comparable yet: Waiting for the VPC."
    h.plans["Environment/staging"] = PermanentError("ECS cluster x exists but is not managed by Cloudfauj.")
    out = h.diff(ENV)
    assert out["changed"] is True and out["objects"][0]["action"] == "blocked"
    assert out["objects"][0]["message"] == "would fail: ECS cluster x exists but is not managed by Cloudfauj."


def test_invalid_input_is_refused_as_apply_refuses_it_before_any_plan(h: Harness) -> None:
    with pytest.raises(InvalidInput) as e:
        h.diff(APP, env="nowhere", image=IMAGE)
    assert "environment 'nowhere' does not exist" in e.value.message
    with pytest.raises(InvalidInput):
        h.diff(ENV + "colour: blue\n")
    assert h.planned == []


def test_a_task_definition_image_is_shown_as_the_tag_written_with_its_digest() -> None:
    old_spec = {"image": IMAGE, "image_digest": D1}
    new_spec = {"image": f"{REGISTRY}/web:v2", "image_digest": D2}
    stored = StoredObject("Application", "web", "staging", old_spec, 1, "", "")
    change = Change(
        "task-definition arn:td:1", "update", {"image": (f"{REGISTRY}/web@{D1}", f"{REGISTRY}/web@{D2}")}
    )
    env = StoredObject("Environment", "staging", None, {}, 1, "", "")
    planner = Planner(lambda obj: [change], lambda kind, _, name: stored if kind == "Application" else env)
    out = planner.object("Application", "web", "staging", new_spec)
    assert out["action"] == "update"
    (shown,) = out["changes"][0]["fields"]
    assert shown == {
        "path": "image",
        "old": "web:v1 (sha256:111111111111…)",
        "new": "web:v2 (sha256:222222222222…)",
    }
    assert shown_image(f"{REGISTRY}/web:v0", old_spec) == f"{REGISTRY}/web:v0"  # not what the spec pins
    assert shown_image("nginx:1.27", {"image": "nginx:1.27"}) == "nginx:1.27"


def test_spec_paths_name_the_nested_fields_that_differ() -> None:
    old = {"resources": {"cpu": 256, "memory": 512}, "replicas": 1, "image": "a"}
    new = {"resources": {"cpu": 512, "memory": 512}, "replicas": 1, "image_digest": "d", "image": "a"}
    assert spec_paths(old, new) == ["image_digest", "resources.cpu"]
