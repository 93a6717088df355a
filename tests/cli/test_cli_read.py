"""`get`, `describe` and `logs`: every row (all pages), in table, JSON or YAML, with the connection flags
accepted after the command name.
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from cloudfauj.cli import client as client_module
from cloudfauj.tokens import Role
from tests.cli.conftest import Server, free_port
from tests.cli.helpers import APP, CF, ENV, IMAGE, MISSING, write


@pytest.fixture
def deployed(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / "env.yml", ENV)
    write(tmp_path / ".cloudfauj.yml", APP)
    assert cf("apply", "-f", "env.yml").code == 0
    assert cf("deploy", "--env", "demo", IMAGE).code == 0
    assert cf("deploy", "--env", "demo", MISSING).code == 1


def test_get_follows_every_page_unless_limited(
    cf: CF, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        write(tmp_path / f"e{i}.yml", ENV.replace("demo", f"env{i}"))
    assert cf("apply", *[a for i in range(5) for a in ("-f", f"e{i}.yml")], "--no-wait").code == 0
    monkeypatch.setattr(client_module, "PAGE_SIZE", 2)
    names = [e["metadata"]["name"] for e in cf("get", "environments", "-o", "json").json()]
    assert names == [f"env{i}" for i in range(5)]
    assert len(cf("get", "envs", "--limit", "3", "-o", "json").json()) == 3


@pytest.mark.usefixtures("deployed")
def test_get_deployments_is_newest_first_in_every_format(cf: CF) -> None:
    rows = cf("get", "deployments", "-o", "json").json()
    assert [(d["image"], d["status"]) for d in rows] == [(MISSING, "failed"), (IMAGE, "succeeded")]
    yaml = YAML(typ="safe").load(StringIO(cf("get", "deploy", "-o", "yaml").out))
    assert yaml == rows
    header, *lines = cf("get", "deployment").out.splitlines()
    assert header.split() == ["ID", "APP", "ENV", "IMAGE", "STATUS", "CAUSE", "CREATED", "DURATION"]
    assert [line.split()[4] for line in lines] == ["failed", "succeeded"]
    assert header.index("STATUS") == lines[0].index("failed"), "columns are aligned"


@pytest.mark.usefixtures("deployed")
def test_get_one_object_prints_one_object(cf: CF) -> None:
    env = cf("get", "env", "demo", "-o", "json").json()
    assert env["kind"] == "Environment" and env["status"]["phase"] == "ready"
    app = cf("get", "app", "web", "-o", "json").json()  # no --env needed while the name is unique
    assert (
        app["metadata"] == cf("get", "applications", "web", "--env", "demo", "-o", "json").json()["metadata"]
    )
    deployment_id = cf("get", "deployments", "-o", "json").json()[0]["id"]
    assert cf("get", "deployment", deployment_id, "-o", "json").json()["id"] == deployment_id
    assert cf("get", "apps").out.split()[:5] == ["ENV", "NAME", "IMAGE", "PHASE", "URL"]


@pytest.mark.usefixtures("deployed")
def test_get_records_filters_by_kind_app_and_status(cf: CF, server: Server) -> None:
    assert [r["kind"] for r in cf("get", "records", "-o", "json").json()] == [
        "Application",
        "Application",
        "Environment",
    ]
    assert [r["kind"] for r in cf("get", "records", "--kind", "Environment", "-o", "json").json()] == [
        "Environment"
    ]
    assert len(cf("get", "records", "--app", "web", "--status", "failed", "-o", "json").json()) == 1
    assert "/v1/records?kind=Application&name=web&status=failed&limit=500" in server.recorder.paths()


def test_connection_flags_work_after_the_command_and_before_it(
    cf: CF, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDFAUJ_SERVER", f"http://127.0.0.1:{free_port()}")  # nothing there
    for secret in ("t1", "t2", "t3"):
        server.service.add_token(secret, name=f"viewer-{secret}", role=Role.VIEWER)
    assert cf("get", "envs", "--server", server.url, "--token", "t1", "-o", "json").code == 0
    assert cf("get", "envs", "--server-addr", server.url, "--token", "t2").code == 0
    assert cf("--server-addr", server.url, "--token", "t3", "env", "ls").code == 0
    tokens = [h.get("authorization") for _, _, _, h in server.recorder.requests]
    assert tokens == ["Bearer t1", "Bearer t2", "Bearer t3"]


def test_no_token_sends_no_authorization_header(
    cf: CF, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLOUDFAUJ_TOKEN")
    r = cf("get", "envs")
    assert r.code == 3 and "needs an API token and none was given" in r.err, str(r)
    assert all("authorization" not in h for _, _, _, h in server.recorder.requests)


@pytest.mark.usefixtures("deployed")
def test_describe_shows_spec_status_records_and_events(cf: CF) -> None:
    r = cf("describe", "application", "web", "--env", "demo")
    assert r.code == 0, str(r)
    for text in (
        "Kind:",
        "Application",
        "Environment:",
        "demo",
        "Spec:",
        "image:",
        "Conditions:",
        "Recent records:",
        "Events of record",
        "The rollout failed.",
    ):
        assert text in r.out, text
    env = cf("describe", "env", "demo")
    assert "Phase:" in env.out and "ready" in env.out


@pytest.mark.usefixtures("deployed")
def test_logs_print_timestamp_type_and_message(cf: CF) -> None:
    deployment_id = cf("get", "deployments", "-o", "json").json()[1]["id"]
    r = cf("logs", "deployment", deployment_id)
    assert r.code == 0, str(r)
    lines = r.out.splitlines()
    assert lines[0].split(None, 2)[1:] == ["info", "Reconciling Application 'web'."]
    assert lines[-1].endswith("Created the service.  [create_service web]")
    assert lines[0][:4].isdigit() and lines[0][19] == "." and "Z  " in lines[0]


def test_logs_follow_streams_until_the_record_ends(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / "env.yml", ENV)
    record_id = cf("apply", "-f", "env.yml", "--no-wait", "-o", "json").json()[0]["id"]
    r = cf("logs", "record", record_id, "--follow")
    assert r.code == 0, str(r)
    assert [line.split(None, 2)[2] for line in r.out.splitlines()] == [
        "Reconciling Environment 'demo'.",
        "Created the service.  [create_service demo]",
    ]
    assert "environment demo: succeeded" in r.err


def test_empty_lists_say_so_on_stderr_and_print_an_empty_array_as_json(cf: CF) -> None:
    r = cf("get", "deployments")
    assert r.code == 0 and r.out == "" and "No deployments found." in r.err
    assert cf("get", "records", "-o", "json").json() == []


def test_get_sources_shows_the_sync_directory_and_why_its_revision_was_not_applied(
    cf: CF, server: Server
) -> None:
    r = cf("get", "sources")
    assert r.code == 0 and "No sources found." in r.err, str(r)
    server.service.sources.append(
        {
            "name": "sync-dir",
            "path": "/srv/deploy",
            "type": "git",
            "prune": True,
            "status": "failed",
            "revision": "b" * 40,
            "applied_revision": "a" * 40,
            "applied_at": "2026-11-25T19:02:43.123456Z",
            "checked_at": "2026-11-25T19:05:00.000000Z",
            "error": "Revision bbbb was not applied: bad.yml, line 4: field 'colour': unknown key",
            "objects": ["environment/demo"],
            "pruned": [],
        }
    )
    r = cf("get", "sources")
    assert r.code == 0, str(r)
    header, row = r.out.splitlines()
    assert header.split() == ["NAME", "PATH", "STATUS", "APPLIED", "OBJECTS", "ERROR"]
    assert row.split()[:5] == ["sync-dir", "/srv/deploy", "failed", "a" * 12, "1"] and "bad.yml" in row
    (one,) = cf("get", "src", "-o", "json").json()
    assert one["revision"] == "b" * 40
    assert cf("get", "source", "sync-dir", "-o", "json").json()["path"] == "/srv/deploy"
    assert cf("get", "source", "nope").code == 2
