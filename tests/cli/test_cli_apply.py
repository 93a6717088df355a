"""`apply`, `deploy` and `delete` send one request, report what changed, follow the records they opened
live on stderr, print those records on stdout, and exit by how the records ended.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Server
from tests.cli.helpers import APP, CF, ENV, IMAGE, MISSING, write


def test_apply_waits_streams_progress_and_prints_the_records(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / "env.yml", ENV)
    r = cf("apply", "-f", "env.yml")
    assert r.code == 0, str(r)
    assert "environment/demo created" in r.err
    assert "environment demo: Reconciling Environment 'demo'." in r.err
    assert "environment demo: succeeded" in r.err
    header, row = r.out.splitlines()
    assert header.split() == ["ID", "KIND", "NAME", "STATUS", "CAUSE", "CREATED"]
    assert row.split()[1:5] == ["Environment", "demo", "succeeded", "apply"]


def test_apply_with_json_output_prints_one_json_array_of_terminal_records(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / "env.yml", ENV)
    write(tmp_path / ".cloudfauj.yml", APP)
    r = cf("apply", "-f", "env.yml", "-f", ".cloudfauj.yml", "--env", "demo", "--image", IMAGE, "-o", "json")
    assert r.code == 0, str(r)
    records = r.json()
    assert [(d["kind"], d["status"]) for d in records] == [
        ("Environment", "succeeded"),
        ("Application", "succeeded"),
    ]
    assert records[1]["image"] == IMAGE and records[1]["finished_at"]


def test_apply_exits_1_when_a_deployment_fails_and_says_why(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / ".cloudfauj.yml", APP)
    r = cf("apply", "--env", "demo", "--image", MISSING)
    assert r.code == 1, str(r)
    assert "application demo/web: failed: Tasks failed to start: image missing." in r.err
    assert "failed" in r.out


def test_apply_without_waiting_prints_the_pending_records(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / "env.yml", ENV)
    r = cf("apply", "-f", "env.yml", "--no-wait", "-o", "json")
    assert r.code == 0, str(r)
    assert [d["status"] for d in r.json()] == ["pending"]


def test_applying_unchanged_files_opens_nothing_and_prints_nothing(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / "env.yml", ENV)
    assert cf("apply", "-f", "env.yml").code == 0
    r = cf("apply", "-f", "env.yml")
    assert r.code == 0 and "environment/demo unchanged" in r.err and r.out == "", str(r)
    assert cf("apply", "-f", "env.yml", "-o", "json").json() == []


def test_apply_reads_stdin_and_directories(cf: CF, server: Server, tmp_path: Path) -> None:
    assert cf("apply", "-f", "-", input=ENV).code == 0
    write(tmp_path / "conf" / "a.yml", ENV.replace("demo", "a"))
    write(tmp_path / "conf" / "b.yaml", ENV.replace("demo", "b"))
    write(tmp_path / "conf" / "notes.txt", "not a manifest")
    assert cf("apply", "-f", "conf").code == 0
    names = [[s.name for s in args["sources"]] for name, args in server.service.calls if name == "apply"]
    assert names == [["<stdin>"], ["conf/a.yml", "conf/b.yaml"]]


def test_apply_sends_deadline_source_and_force(
    cf: CF, server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "env.yml", ENV)
    assert cf("apply", "-f", "env.yml", "--deadline", "120", "--source", "abc123", "--force").code == 0
    monkeypatch.setenv("GITHUB_SHA", "f00d")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/web")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    assert cf("apply", "-f", "env.yml", "--force").code == 0
    first, second = [args for name, args in server.service.calls if name == "apply"]
    assert (first["deadline_seconds"], first["source"], first["force"]) == (120, "abc123", True)
    assert second["source"] == "acme/web@f00d https://github.com/acme/web/actions/runs/42"


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {
                "GITHUB_SHA": "3f2c9e1",
                "GITHUB_REF_NAME": "main",
                "GITHUB_SERVER_URL": "https://github.example.com",
                "GITHUB_REPOSITORY": "acme/web",
                "GITHUB_RUN_ID": "42",
            },
            "acme/web@3f2c9e1 on main https://github.example.com/acme/web/actions/runs/42",
        ),
        (
            {
                "CI_COMMIT_SHA": "9a8b7c6",
                "CI_COMMIT_REF_NAME": "release",
                "CI_PROJECT_PATH": "acme/api",
                "CI_PIPELINE_URL": "https://gitlab.com/acme/api/-/pipelines/7",
            },
            "acme/api@9a8b7c6 on release https://gitlab.com/acme/api/-/pipelines/7",
        ),
    ],
    ids=["github-actions", "gitlab-ci"],
)
def test_apply_in_ci_sends_the_commit_branch_and_pipeline_as_source_and_the_token_stays_initiator(
    cf: CF,
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    expected: str,
) -> None:
    for name in ("GITHUB_REF_NAME", "GITHUB_SERVER_URL", "CI_COMMIT_REF_NAME", "CI_PIPELINE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    write(tmp_path / "env.yml", ENV)
    r = cf("apply", "-f", "env.yml", "-o", "json")
    assert r.code == 0, str(r)
    (call,) = [args for name, args in server.service.calls if name == "apply"]
    assert call["source"] == expected
    assert call["initiator"] == "admin"  # the token's name, never the CI's


def test_deploy_is_apply_of_the_app_file_with_env_and_image(cf: CF, server: Server, tmp_path: Path) -> None:
    write(tmp_path / ".cloudfauj.yml", APP)
    r = cf("deploy", "--env", "demo", IMAGE)
    assert r.code == 0, str(r)
    (call,) = [args for name, args in server.service.calls if name == "apply"]
    assert (call["env"], call["image"], [s.name for s in call["sources"]]) == (
        "demo",
        IMAGE,
        [".cloudfauj.yml"],
    )
    assert cf("deploy", "--env", "demo", MISSING).code == 1


def test_delete_follows_the_deletion_records(cf: CF, server: Server, tmp_path: Path) -> None:
    write(tmp_path / "env.yml", ENV)
    write(tmp_path / ".cloudfauj.yml", APP)
    assert cf("apply", "-f", "env.yml").code == 0
    assert cf("deploy", "--env", "demo", IMAGE).code == 0
    r = cf("delete", "environment", "demo", "--cascade", "-o", "json")
    assert r.code == 0, str(r)
    assert {(d["kind"], d["cause"], d["status"]) for d in r.json()} == {
        ("Application", "delete", "succeeded"),
        ("Environment", "delete", "succeeded"),
    }
    assert "environment demo: deletion requested" in r.err
    assert cf("get", "environments", "-o", "json").json() == []


def test_a_wait_survives_a_dropped_stream_by_polling(cf: CF, server: Server, tmp_path: Path) -> None:
    server.recorder.break_streams = True
    write(tmp_path / "env.yml", ENV)
    r = cf("apply", "-f", "env.yml", "-o", "json")
    assert r.code == 0, str(r)
    assert r.json()[0]["status"] == "succeeded"
    assert any("/events?after=" in p for p in server.recorder.paths())


def test_apply_watch_refuses_stdin_and_a_missing_directory(cf: CF) -> None:
    r = cf("apply", "--watch", "-f", "-", input="")
    assert r.code == 2 and "cannot watch stdin" in r.err, str(r)
    r = cf("apply", "--watch", "-f", "nowhere/app.yml")
    assert r.code == 2 and "does not exist" in r.err, str(r)


def test_var_flags_are_sent_as_variables_and_a_malformed_one_is_refused(
    cf: CF, server: Server, tmp_path: Path
) -> None:
    write(tmp_path / "env.yml", ENV)
    r = cf("apply", "-f", "env.yml", "--var", "RELEASE=abc", "--var", "URL=https://x/?a=b")
    assert r.code == 0, str(r)
    (applied,) = [args for name, args in server.service.calls if name == "apply"]
    assert applied["variables"] == {"RELEASE": "abc", "URL": "https://x/?a=b"}
    r = cf("apply", "-f", "env.yml", "--var", "9LIVES")
    assert r.code == 2 and "--var '9LIVES' is not KEY=VALUE" in r.err, str(r)
