"""The service layer with a real SQLite store: what an apply stores and queues, what it refuses, and
the delete rules (no AWS here: the reactor is replaced by a list of queued keys).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudfauj.errors import Conflict, InvalidInput, NotFound
from cloudfauj.manifests import Source
from cloudfauj.service import Service
from cloudfauj.settings import Settings
from cloudfauj.store import SqliteStore

ENV = "name: staging\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
APP = (
    "name: web\ntype: server\nhealthcheck: {path: /}\nvisibility: public\n"
    "resources: {cpu: 100, memory: 600, network: {bind_port: 80}}\n"
)
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1"


class Harness:
    def __init__(self, tmp: Path) -> None:
        self.store = SqliteStore(tmp / "db")
        self.queued: list[str] = []
        self.service = Service(self.store, Settings(), enqueue=self.queued.append, ready=lambda: True)

    def apply(self, text: str, name: str = "f.yml", **kw: object) -> dict:  # type: ignore[type-arg]
        args = {
            "env": None,
            "image": None,
            "deadline_seconds": None,
            "source": None,
            "force": False,
            "initiator": None,
        }
        args.update(kw)
        return self.service.apply([Source(name, text)], **args)  # type: ignore[arg-type]


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.store.close()


def test_an_apply_stores_the_batch_opens_records_and_queues_environments_first(h: Harness) -> None:
    out = h.apply(ENV + "---\n" + APP.replace("name: web", "name: web"), env="staging", image=IMAGE)
    assert [o["kind"] for o in out["objects"]] == ["Environment", "Application"]
    assert h.queued == ["Environment/staging", "Application/staging/web"]
    (_, app_record) = out["records"]
    assert app_record["image"] == IMAGE and app_record["status"] == "pending" and app_record["app"] == "web"
    stored = h.service.get_object("Application", "web", env="staging")
    assert stored["spec"]["resources"]["cpu"] == 256 and stored["spec"]["resources"]["memory"] == 1024


def test_an_unchanged_reapply_opens_no_record_and_queues_nothing(h: Harness) -> None:
    h.apply(ENV)
    h.queued.clear()
    out = h.apply(ENV)
    assert out["records"] == [] and out["objects"][0]["changed"] is False and h.queued == []


def test_an_app_for_an_unknown_environment_is_invalid_and_nothing_is_stored(h: Harness) -> None:
    with pytest.raises(InvalidInput) as e:
        h.apply(APP, env="nowhere", image=IMAGE)
    assert "environment 'nowhere' does not exist" in e.value.message and "f.yml" in e.value.message
    assert h.store.list_objects() == [] and h.store.list_records() == []


def test_apps_whose_aws_names_collide_with_a_stored_app_are_refused(h: Harness) -> None:
    h.apply(ENV)
    h.apply(APP.replace("name: web", "name: my_app"), env="staging", image=IMAGE)
    with pytest.raises(InvalidInput) as e:
        h.apply(APP.replace("name: web", "name: my-app"), env="staging", image=IMAGE)
    assert "my_app" in e.value.message


DOMAIN = "name: example.com\ndns_service: aws_route53\ncert_authority: aws_acm\n"
DOMAIN_ENV = ENV + "domain: example.com\nload_balancer: aws_alb\n"


def test_an_environment_needs_its_domain_stored_or_in_the_same_batch(h: Harness) -> None:
    with pytest.raises(InvalidInput) as e:
        h.apply(DOMAIN_ENV)
    assert "domain 'example.com' does not exist" in e.value.message and "line 4" in e.value.message
    out = h.apply(DOMAIN + "---\n" + DOMAIN_ENV)
    assert [o["kind"] for o in out["objects"]] == ["Domain", "Environment"]


def test_deleting_a_domain_in_use_names_the_environments_and_cascade_deletes_them(h: Harness) -> None:
    h.apply(DOMAIN + "---\n" + DOMAIN_ENV)
    h.apply(APP, env="staging", image=IMAGE)
    with pytest.raises(Conflict) as e:
        h.service.delete_object("Domain", "example.com")
    assert "staging" in e.value.message and "--cascade" in e.value.message
    out = h.service.delete_object("Domain", "example.com", cascade=True)
    assert [r["kind"] for r in out["records"]] == ["Application", "Environment", "Domain"]


def test_deleting_an_environment_with_applications_needs_cascade(h: Harness) -> None:
    h.apply(ENV)
    h.apply(APP, env="staging", image=IMAGE)
    with pytest.raises(Conflict) as e:
        h.service.delete_object("Environment", "staging")
    assert "web" in e.value.message and "--cascade" in e.value.message
    out = h.service.delete_object("Environment", "staging", cascade=True)
    assert [r["kind"] for r in out["records"]] == ["Application", "Environment"]
    assert all(r["cause"] == "delete" for r in out["records"])
    with pytest.raises(NotFound):
        h.service.delete_object("Environment", "nope")


def test_lists_page_with_a_cursor(h: Harness) -> None:
    for name in ("a", "b", "c"):
        h.apply(ENV.replace("staging", name))
    first = h.service.list_objects("Environment", env=None, limit=2, cursor=None)
    assert [o["metadata"]["name"] for o in first["items"]] == ["a", "b"] and first["next_cursor"]
    rest = h.service.list_objects("Environment", env=None, limit=2, cursor=first["next_cursor"])
    assert [o["metadata"]["name"] for o in rest["items"]] == ["c"] and rest["next_cursor"] is None
    records = h.service.list_records(kind=None, env=None, name=None, status=None, limit=2, cursor=None)
    assert len(records["items"]) == 2 and records["next_cursor"]
