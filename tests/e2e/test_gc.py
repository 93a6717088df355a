"""`cloudfauj gc` through the real server and CLI processes: what carries our tag but belongs to no live
object is listed (`--dry-run`), then deleted by a record the CLI follows; live objects' resources and other
installations' resources stay.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import MANIFESTS, Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    st = Stack(tmp_path).start()
    yield st
    st.stop()


def forget(st: Stack, kind: str, name: str) -> None:
    """The store loses an object (restored from an older backup, say) while AWS keeps its resources."""
    with sqlite3.connect(st.data_dir / "cloudfauj.db") as db:
        db.execute("DELETE FROM objects WHERE kind = ? AND name = ?", (kind, name))


def test_gc_lists_then_deletes_only_what_no_live_object_owns(stack: Stack, tmp_path: Path) -> None:
    st = stack
    assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml")).code == 0
    for name in ("web", "api"):
        manifest = tmp_path / f"{name}.yml"
        manifest.write_text(
            (MANIFESTS / "nginx_api" / ".cloudfauj.yml").read_text().replace("nginx_api", name)
        )
        r = st.cf("deploy", "--env", "staging", "public.ecr.aws/nginx/nginx:1.27", "--config", str(manifest))
        assert r.code == 0, str(r)
    clean = st.cf("gc", "--dry-run")
    assert clean.code == 0 and clean.out == "" and "No orphaned AWS resources" in clean.err, str(clean)
    foreign = st.aws("logs")
    foreign.create_log_group(
        logGroupName="/someone-else", tags={"cloudfauj:managed-by": "another-installation"}
    )
    before = st.tagged()

    forget(st, "Application", "api")
    listed = st.cf("gc", "--dry-run")
    assert listed.code == 0, str(listed)
    header, *rows = listed.out.splitlines()
    assert header.split() == ["KIND", "ENV", "APP", "DOMAIN", "TYPE", "ARN"]
    assert {tuple(r.split()[:3]) for r in rows} == {("Application", "staging", "api")}
    assert {r.split()[4] for r in rows} == {"ec2:security-group", "ecs:service", "ecs:task-definition"}
    dry = st.cf_json("gc", "--dry-run")
    assert dry["dry_run"] is True and dry["records"] == [] and len(dry["orphans"]) == len(rows)
    assert st.tagged() == before  # a dry run changes nothing

    deleted = st.cf_json("gc")
    assert deleted["dry_run"] is False and [o["arn"] for o in deleted["orphans"]] == [
        o["arn"] for o in dry["orphans"]
    ]
    (record,) = deleted["records"]
    assert record["kind"] == "GarbageCollection" and record["status"] == "succeeded", record
    log = st.cf("logs", "record", record["id"])
    for step in ("delete_service", "deregister_task_definition", "delete_security_group"):
        assert step in log.out, str(log)

    assert st.cf_json("gc", "--dry-run")["orphans"] == []
    tasks_stopped = {arn for arn in before if ":task/" in arn}  # the api service's went with it
    assert set(st.tagged()) - tasks_stopped == set(before) - tasks_stopped - {
        o["arn"] for o in dry["orphans"]
    }
    (svc,) = st.services("staging")
    assert svc["serviceName"] == "web"
    groups = foreign.describe_log_groups(logGroupNamePrefix="/someone-else")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/someone-else"]
