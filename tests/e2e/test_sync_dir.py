"""`cloudfauj server --sync-dir DIR --prune` end to end, on a git checkout made by the test: each commit is
applied as a whole with its SHA as the records' `source`; uncommitted edits are not applied; a commit
with an invalid file changes nothing and is reported by `cloudfauj get sources` and the server log, and
the next good commit applies everything; pruning deletes what the directory applied and no longer
holds, never what was applied by other means.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.gitops import application, environment
from tests.e2e.harness import Stack, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ENV = "gitops"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str | None], message: str) -> str:
    """Write (or, for None, remove) `files` and commit them all; the new HEAD's SHA."""
    for name, text in files.items():
        if text is None:
            (repo / name).unlink()
        else:
            (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def deployments(st: Stack, app: str) -> list[dict[str, Any]]:
    return list(st.cf_json("get", "deployments", "--app", app, "--env", ENV))


def deployed(st: Stack, app: str, image: str, source: str) -> bool:
    return any(
        d["image"] == image and d["source"] == source and d["status"] == "succeeded"
        for d in deployments(st, app)
    )


def apps(st: Stack) -> set[str]:
    return {a["metadata"]["name"] for a in st.cf_json("get", "applications", "--env", ENV)}


def the_source(st: Stack) -> dict[str, Any]:
    (source,) = st.cf_json("get", "sources")
    return dict(source)


def test_commits_are_applied_whole_with_their_sha_as_source_and_pruned(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".github").mkdir()
    (repo / ".github" / "ci.yml").write_text("on: push\n")  # hidden: not a manifest
    st = Stack(tmp_path, server_args=("--sync-dir", str(repo), "--prune"))
    st.start()
    v1, v2, v3 = st.push("web", "v1"), st.push("web", "v2"), st.push("web", "v3")
    api = st.push("api", "v1")
    try:
        c1 = commit(
            repo,
            {"env.yml": environment(ENV), "web.yml": application("web", ENV, v1)},
            "an environment and web",
        )
        wait_for(lambda: deployed(st, "web", v1, c1), what="web v1 from the first commit")
        assert the_source(st)["applied_revision"] == c1

        manual = tmp_path / "manual.yml"
        manual.write_text(application("manual", ENV, api))
        assert st.cf("apply", "-f", str(manual)).code == 0  # applied by other means: never pruned

        c2 = commit(
            repo, {"web.yml": application("web", ENV, v2), "api.yml": application("api", ENV, api)}, "v2"
        )
        wait_for(lambda: deployed(st, "web", v2, c2), what="web v2 from the second commit")
        wait_for(lambda: deployed(st, "api", api, c2), what="api from the second commit")

        checked = the_source(st)["checked_at"]
        (repo / "web.yml").write_text(application("web", ENV, v3))  # not committed: not applied
        wait_for(lambda: the_source(st)["checked_at"] != checked, timeout=30, what="the edit to be seen")
        before = {app: len(deployments(st, app)) for app in ("web", "api")}
        assert before == {"web": 2, "api": 1}
        bad = "apiVersion: cloudfauj.dev/v1\nkind: Application\nmetadata: {name: bad, env: gitops}\n"
        bad += "colour: red\n"
        c3 = commit(repo, {"bad.yml": bad, "api.yml": None, "web.yml": application("web", ENV, v3)}, "broken")
        failed = wait_for(
            lambda: (s := the_source(st))["status"] == "failed" and s["revision"] == c3 and s,
            what="the broken commit to be reported",
        )
        assert "bad.yml" in failed["error"] and "colour" in failed["error"], failed
        assert failed["applied_revision"] == c2
        table = st.cf("get", "sources")
        assert "failed" in table.out and "bad.yml" in table.out, str(table)
        assert {app: len(deployments(st, app)) for app in ("web", "api")} == before
        assert apps(st) == {"web", "api", "manual"}  # nothing applied, nothing pruned
        assert "bad.yml" in st.log("server")

        c4 = commit(repo, {"bad.yml": None}, "fixed")
        wait_for(lambda: deployed(st, "web", v3, c4), what="web v3 from the fixed commit")
        wait_for(lambda: apps(st) == {"web", "manual"}, what="api pruned, manual kept")
        synced = the_source(st)
        assert (synced["status"], synced["applied_revision"], synced["error"]) == ("synced", c4, None)
        assert synced["pruned"] == [f"application/api in {ENV}"]
        assert st.services(ENV) and {s["serviceName"] for s in st.services(ENV)} == {"web", "manual"}
        manual_history = deployments(st, "manual")
        assert [d["source"] for d in manual_history] == [None], manual_history
    finally:
        st.stop()
