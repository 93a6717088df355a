"""The service layer with a real SQLite store: what an apply stores and queues, what it refuses, and
the delete rules (no AWS here: the reactor is replaced by a list of queued keys).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudfauj.errors import Conflict, InvalidInput, NotFound
from cloudfauj.manifests import Source
from cloudfauj.records import RecordStatus, utcnow
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


def _finish(h: Harness, record_id: str, status: RecordStatus) -> None:
    record = h.store.get_record(record_id)
    assert record is not None
    h.store.save_record(record.finish(status, None if status == "succeeded" else "boom", now=utcnow()))


def _deploy(h: Harness, tag: str, status: RecordStatus) -> str:
    out = h.apply(APP, env="staging", image=IMAGE.replace(":v1", f":{tag}"))
    record_id = str(out["records"][0]["id"])
    _finish(h, record_id, status)
    return record_id


def test_rollback_defaults_to_the_newest_succeeded_deployment_with_another_spec(h: Harness) -> None:
    _finish(h, h.apply(ENV)["records"][0]["id"], RecordStatus.SUCCEEDED)
    with pytest.raises(NotFound):
        h.service.rollback("staging", "web", to=None, initiator=None, source=None)
    v1 = _deploy(h, "v1", RecordStatus.SUCCEEDED)
    with pytest.raises(Conflict, match="no earlier succeeded deployment"):
        h.service.rollback("staging", "web", to=None, initiator=None, source=None)
    v2 = _deploy(h, "v2", RecordStatus.SUCCEEDED)
    v3 = _deploy(h, "v3", RecordStatus.FAILED)
    out = h.service.rollback("staging", "web", to=None, initiator="ci", source=None)
    assert out["target"]["id"] == v2
    (record,) = out["records"]
    assert record["cause"] == "rollback" and record["image"].endswith(":v2") and record["initiator"] == "ci"
    assert h.queued[-1] == "Application/staging/web"
    _finish(h, record["id"], RecordStatus.SUCCEEDED)
    # again: the current spec is v2's, so "back" is v1
    assert h.service.rollback("staging", "web", to=None, initiator=None, source=None)["target"]["id"] == v1
    with pytest.raises(Conflict, match="failed"):
        h.service.rollback("staging", "web", to=v3, initiator=None, source=None)
    with pytest.raises(NotFound):
        h.service.rollback("staging", "web", to="999", initiator=None, source=None)


def test_cancel_marks_an_open_record_and_refuses_an_ended_one(h: Harness) -> None:
    record_id = h.apply(ENV)["records"][0]["id"]
    out = h.service.cancel(record_id, initiator="alice")
    assert out["records"][0]["id"] == record_id
    stored = h.store.get_record(record_id)
    assert stored is not None and stored.cancel_requested == "alice" and not stored.terminal
    assert any("Cancel requested by alice" in e.message for e in h.store.events(record_id))
    _finish(h, record_id, RecordStatus.CANCELLED)
    with pytest.raises(Conflict, match="already ended"):
        h.service.cancel(record_id, initiator=None)
    with pytest.raises(NotFound):
        h.service.cancel("12345", initiator=None)


def test_reconcile_opens_a_drift_record_or_returns_the_open_one(h: Harness) -> None:
    first = h.apply(ENV)["records"][0]
    assert (
        h.service.reconcile("Environment", "staging", env=None, initiator=None, source=None)["records"][0][
            "id"
        ]
        == first["id"]
    )
    _finish(h, first["id"], RecordStatus.SUCCEEDED)
    (record,) = h.service.reconcile("Environment", "staging", env=None, initiator="bob", source=None)[
        "records"
    ]
    assert record["cause"] == "drift" and record["source"] == "reconcile" and record["initiator"] == "bob"
    with pytest.raises(NotFound):
        h.service.reconcile("Application", "web", env="staging", initiator=None, source=None)


def test_an_unset_drift_policy_is_not_stored_so_older_specs_compare_equal(h: Harness) -> None:
    h.apply(ENV)
    assert "drift" not in h.service.get_object("Environment", "staging")["spec"]
    out = h.apply(ENV + "drift: report\n")
    assert (
        out["objects"][0]["changed"]
        and h.service.get_object("Environment", "staging")["spec"]["drift"] == "report"
    )
    with pytest.raises(InvalidInput, match="drift"):
        h.apply(ENV + "drift: sometimes\n")


TASK_ROLE_APP = APP + "task_role: {policies: ['arn:aws:iam::aws:policy/AdministratorAccess']}\n"
BOUNDARY = "arn:aws:iam::123456789012:policy/cloudfauj-task-boundary"


def test_a_deployer_may_give_a_task_role_only_when_the_server_bounds_task_roles(h: Harness) -> None:
    from cloudfauj.errors import Forbidden
    from cloudfauj.tokens import Role

    h.apply(ENV)
    with pytest.raises(Forbidden) as e:
        h.apply(TASK_ROLE_APP, env="staging", image=IMAGE, role=Role.DEPLOYER)
    assert "task_role_boundary" in e.value.message and "'web'" in e.value.message
    assert h.store.list_objects("Application") == []
    h.apply(TASK_ROLE_APP, env="staging", image=IMAGE, role=Role.ADMIN)  # an admin may
    h.apply(APP, env="staging", image=IMAGE, role=Role.DEPLOYER)  # an app without one: as ever
    h.service.settings = Settings(task_role_boundary=BOUNDARY)
    h.apply(TASK_ROLE_APP, env="staging", image=IMAGE, role=Role.DEPLOYER)
    assert h.store.get_object("Application", "staging", "web").spec["task_role"]  # type: ignore[union-attr]


def test_the_task_role_boundary_must_be_a_policy_arn() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings(task_role_boundary="AdministratorAccess")


# -- may_block=False: what the API's event loop may run itself ----------------------------------------
def test_an_apply_that_needs_no_network_runs_the_same_without_blocking(h: Harness) -> None:
    out = h.apply(ENV + "---\n" + APP, env="staging", image="nginx:1.27", may_block=False)
    assert [r["status"] for r in out["records"]] == ["pending", "pending"]
    assert h.queued == ["Environment/staging", "Application/staging/web"]


def test_an_ecr_image_to_look_up_would_block_and_nothing_is_stored(tmp_path: Path) -> None:
    from cloudfauj.aws import Gateway
    from cloudfauj.errors import WouldBlock

    h = Harness(tmp_path)
    # never reached: the digest lookup is what would wait on the network, so nothing is tried before it
    h.service.aws = Gateway(
        region="us-east-1", endpoint_url="http://127.0.0.1:9", installation_id="t", credentials=("a", "b")
    )
    h.apply(ENV)
    with pytest.raises(WouldBlock):
        h.apply(APP, env="staging", image=IMAGE, may_block=False)
    assert h.service.list_objects("Application", env="staging", limit=10, cursor=None)["items"] == []
    assert h.queued == ["Environment/staging"]
    h.store.close()


def test_a_store_that_is_not_a_local_file_would_block_before_anything_is_read(tmp_path: Path) -> None:
    from cloudfauj.errors import WouldBlock

    class RemoteStore(SqliteStore):  # what matters here is only the store's own word on its writes
        local = False

    store = RemoteStore(tmp_path / "db")
    service = Service(store, Settings(), enqueue=lambda key: None, ready=lambda: True)
    with pytest.raises(WouldBlock):
        service.apply(
            [Source("bad.yml", "not: [valid")],  # not even parsed: the answer comes first
            env=None,
            image=None,
            deadline_seconds=None,
            source=None,
            force=False,
            initiator=None,
            may_block=False,
        )
    store.close()
