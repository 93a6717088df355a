"""Directory sync over the real `Service` and SQLite store (no reactor, no AWS): a revision is applied
whole or not at all, records name the sync as initiator, and pruning removes only what the directory
applied — never an object applied by other means, nor an environment something else still uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudfauj.manifests import Source
from cloudfauj.service import Service
from cloudfauj.settings import Settings
from cloudfauj.store import SqliteStore
from cloudfauj.sync import DirectorySync
from tests.e2e.gitops import application, environment

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "cloudfauj.db")
    yield s
    s.close()


@pytest.fixture
def service(store: SqliteStore) -> Service:
    return Service(store, Settings(), enqueue=lambda key: None, ready=lambda: True)


def live(store: SqliteStore) -> set[str]:
    return {f"{o.kind}/{o.name}" for o in store.list_objects() if not o.deleting}


def test_prune_removes_what_left_the_directory_and_nothing_applied_otherwise(
    tmp_path: Path, store: SqliteStore, service: Service
) -> None:
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "env.yml").write_text(environment("a"))
    (deploy / "web.yml").write_text(application("web", "a", IMAGE))
    sync = DirectorySync(service, store, deploy, prune=True)
    sync.sync_once()
    assert live(store) == {"Environment/a", "Application/web"}
    (web,) = store.list_records(kind="Application", name="web")
    assert web.initiator == sync.initiator and web.source == str(deploy.resolve())

    manual = [Source(name="manual.yml", text=application("manual", "a", IMAGE))]
    service.apply(
        manual, env=None, image=None, deadline_seconds=None, source=None, force=False, initiator="admin"
    )

    (deploy / "bad.yml").write_text("kind: Application\ncolour: red\n")
    (deploy / "web.yml").unlink()
    sync.sync_once()
    (state,) = sync.status()
    assert state["status"] == "failed" and "bad.yml" in state["error"], state
    assert live(store) == {"Environment/a", "Application/web", "Application/manual"}

    (deploy / "bad.yml").unlink()
    sync.sync_once()
    (state,) = sync.status()
    assert (state["status"], state["pruned"]) == ("synced", ["application/web in a"]), state
    assert live(store) == {"Environment/a", "Application/manual"}

    (deploy / "env.yml").write_text(environment("b"))  # a left the directory, but `manual` still uses it
    sync.sync_once()
    assert live(store) == {"Environment/a", "Environment/b", "Application/manual"}
    assert sync.status()[0]["pruned"] == []


def test_an_environment_leaving_with_its_apps_is_pruned_with_them(
    tmp_path: Path, store: SqliteStore, service: Service
) -> None:
    (tmp_path / "all.yml").write_text(environment("a") + "---\n" + application("web", "a", IMAGE))
    sync = DirectorySync(service, store, tmp_path, prune=True)
    sync.sync_once()
    (tmp_path / "all.yml").write_text(environment("b"))
    sync.sync_once()
    assert live(store) == {"Environment/b"}
    assert sync.status()[0]["pruned"] == ["environment/a"]


def test_without_prune_or_with_an_empty_directory_nothing_is_deleted(
    tmp_path: Path, store: SqliteStore, service: Service
) -> None:
    (tmp_path / "env.yml").write_text(environment("a"))
    DirectorySync(service, store, tmp_path, prune=False).sync_once()
    (tmp_path / "env.yml").write_text(environment("b"))
    DirectorySync(service, store, tmp_path, prune=False).sync_once()
    assert live(store) == {"Environment/a", "Environment/b"}

    pruning = DirectorySync(service, store, tmp_path, prune=True)
    (tmp_path / "env.yml").unlink()
    pruning.sync_once()
    (state,) = pruning.status()
    assert state["status"] == "failed" and "holds no manifest" in state["error"]
    assert live(store) == {"Environment/a", "Environment/b"}
