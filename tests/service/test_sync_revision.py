"""What a sync directory's revision is (cloudfauj/sync.py): a git checkout's committed HEAD under the
directory, never its work tree; otherwise the files themselves; hidden files are never manifests.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cloudfauj.sync import SyncError, read_revision


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_a_plain_directory_is_its_files_and_a_change_is_a_new_revision(tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "env.yml").write_text("name: a\n")
    (tmp_path / "apps" / "web.yaml").write_text("name: web\n")
    (tmp_path / "notes.txt").write_text("not a manifest")
    (tmp_path / ".hidden.yml").write_text("name: hidden\n")
    first = read_revision(tmp_path)
    assert (first.kind, [f.name for f in first.files]) == ("directory", ["apps/web.yaml", "env.yml"])
    assert first.id.startswith("sha256:") and read_revision(tmp_path).id == first.id
    (tmp_path / "env.yml").write_text("name: b\n")
    assert read_revision(tmp_path).id != first.id


def test_a_git_checkout_is_its_committed_head_under_the_directory(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    deploy = tmp_path / "deploy"
    (deploy / ".github").mkdir(parents=True)
    (deploy / "web.yml").write_text("committed\n")
    (deploy / ".github" / "ci.yml").write_text("on: push\n")
    (tmp_path / "outside.yml").write_text("elsewhere\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "one")
    head = git(tmp_path, "rev-parse", "HEAD")
    (deploy / "web.yml").write_text("edited, not committed\n")
    (deploy / "new.yml").write_text("untracked\n")
    revision = read_revision(deploy)
    assert (revision.kind, revision.id, revision.source) == ("git", head, head)
    assert [(f.name, f.text) for f in revision.files] == [("web.yml", "committed\n")]


def test_a_checkout_without_a_commit_is_an_error_that_says_so(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    with pytest.raises(SyncError, match="no commit yet"):
        read_revision(tmp_path)
