"""Upstream's commands keep working and map onto the right API requests (reference/upstream.md §1)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Server
from tests.cli.helpers import APP, CF, DOMAIN, ENV, IMAGE, write


def test_env_create_ls_and_destroy(cf: CF, server: Server, tmp_path: Path) -> None:
    r = cf("env", "ls")
    assert r.code == 0 and r.out == "" and "No environments created yet" in r.err
    write(tmp_path / "cf-env-demo.yml", ENV)
    r = cf("env", "create", "--config", "cf-env-demo.yml")
    assert r.code == 0 and "environment/demo created" in r.err, str(r)
    assert cf("env", "ls").out == "demo\n"
    assert cf("env", "destroy", "demo").code == 0
    assert (
        "delete_object",
        {"kind": "Environment", "name": "demo", "env": None, "cascade": False},
    ) in server.service.calls
    assert "/v1/environments/demo?cascade=false" in server.recorder.paths("DELETE")


def test_app_destroy_deletes_the_application_of_that_environment(
    cf: CF, server: Server, tmp_path: Path
) -> None:
    write(tmp_path / ".cloudfauj.yml", APP)
    assert cf("deploy", "--env", "demo", IMAGE).code == 0
    r = cf("app", "destroy", "--env", "demo", "web")
    assert r.code == 0, str(r)
    assert server.recorder.paths("DELETE") == ["/v1/applications/demo/web"]


def test_deployment_ls_info_and_logs(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / ".cloudfauj.yml", APP)
    assert cf("deploy", "--env", "demo", IMAGE).code == 0
    (row,) = cf("deployment", "ls", "-o", "json").json()
    info = cf("deployment", "info", row["id"])
    assert info.code == 0 and "App:        web" in info.out and "Target Env: demo" in info.out, str(info)
    assert "Status:     succeeded" in info.out
    logs = cf("deployment", "logs", row["id"])
    assert logs.code == 0 and "Created the service." in logs.out


def test_domain_add_prints_the_name_servers_then_ls_and_delete(
    cf: CF, server: Server, tmp_path: Path
) -> None:
    write(tmp_path / "example.com.yml", DOMAIN)
    r = cf("domain", "add", "example.com.yml")
    assert r.code == 0, str(r)
    assert "NS records to be configured for example.com:\nns-1.example.net\nns-2.example.org" in r.out
    assert cf("domain", "ls").out == "example.com\n"
    assert cf("domain", "delete", "example.com").code == 0
    assert cf("domain", "ls").out == ""
    assert "/v1/domains/example.com?cascade=false" in server.recorder.paths("DELETE")


def test_aliases_take_output_flags_too(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / "env.yml", ENV)
    assert cf("env", "create", "--config", "env.yml", "-o", "json").json()[0]["status"] == "succeeded"
    assert [e["metadata"]["name"] for e in cf("env", "ls", "-o", "json").json()] == ["demo"]
