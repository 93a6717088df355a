"""`cloudfauj token ...`, and how the CLI picks its token (flag, environment, then the config file's
entry for the installation the server reports) and its CA bundle.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudfauj import userconfig
from cloudfauj.api.testing import ADMIN_TOKEN
from cloudfauj.cli.main import _take_ca_bundle
from cloudfauj.tokens import Role
from tests.cli.conftest import Server
from tests.cli.helpers import CF


def sent_tokens(server: Server) -> list[str | None]:
    return [h.get("authorization") for _, path, _, h in server.recorder.requests if path.startswith("/v1/")]


def test_token_create_prints_the_secret_alone(cf: CF, server: Server) -> None:
    r = cf("token", "create", "ci-web", "--role", "deployer")
    assert r.code == 0, str(r)
    (secret,) = r.out.splitlines()
    assert secret.startswith("cf_") and "shown only now" in r.err
    assert server.service.authenticate(secret) is not None
    created = cf("token", "create", "reader", "--role", "VIEWER", "-o", "json").json()
    assert set(created) == {"name", "role", "token"} and created["role"] == "viewer"


def test_token_list_and_revoke(cf: CF) -> None:
    cf("token", "create", "ci-web", "--role", "deployer")
    listed = cf("token", "list", "-o", "json").json()
    assert [(t["name"], t["role"]) for t in listed] == [("admin", "admin"), ("ci-web", "deployer")]
    assert cf("token", "list").out.split()[:4] == ["NAME", "ROLE", "CREATED", "REVOKED"]
    r = cf("token", "revoke", "ci-web")
    assert r.code == 0 and "revoked" in r.err, str(r)
    assert cf("token", "revoke", "nobody").code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["token", "create", "ci", "--role", "root"],
        ["token", "create", "ci"],
        ["token", "create", "Not A Name", "--role", "viewer"],
    ],
)
def test_bad_token_requests_exit_2(cf: CF, args: list[str]) -> None:
    r = cf(*args)
    assert r.code == 2 and "Error" in r.err, str(r)


def test_a_role_that_may_not_exits_3_saying_why(cf: CF, server: Server) -> None:
    server.service.add_token("cf_viewer", name="ann", role=Role.VIEWER)
    r = cf("token", "create", "x", "--role", "viewer", "--token", "cf_viewer")
    assert r.code == 3 and "Token 'ann' is a viewer token" in r.err and "admin" in r.err, str(r)


def test_without_flag_or_variable_the_config_entry_of_the_servers_installation_is_used(
    cf: CF, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLOUDFAUJ_TOKEN")
    userconfig.save_token("another-installation", "cf_elsewhere", server="http://elsewhere")
    assert cf("get", "envs").code == 3  # nothing for this server's installation: no token sent
    assert sent_tokens(server) == [None]
    userconfig.save_token(server.service.installation_id, ADMIN_TOKEN, server=server.url)
    assert cf("get", "envs").code == 0
    assert sent_tokens(server)[-1] == f"Bearer {ADMIN_TOKEN}"
    monkeypatch.setenv("CLOUDFAUJ_TOKEN", "cf_from-env")  # the variable wins over the file
    assert cf("get", "envs").code == 3 and sent_tokens(server)[-1] == "Bearer cf_from-env"


def test_no_config_file_means_no_lookup(cf: CF, server: Server) -> None:
    assert cf("get", "envs").code == 0
    assert [p for _, p, _, _ in server.recorder.requests] == ["/v1/environments"]


def test_a_broken_config_file_exits_2_naming_it(cf: CF, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDFAUJ_TOKEN")
    path = userconfig.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("installations: [\n")
    r = cf("get", "envs")
    assert r.code == 2 and str(path) in r.err, str(r)


def test_a_missing_ca_bundle_exits_2(cf: CF, tmp_path: Path) -> None:
    r = cf("get", "envs", "--ca-bundle", str(tmp_path / "nope.pem"))
    assert r.code == 2 and "nope.pem" in r.err, str(r)


def test_the_ca_bundle_is_taken_from_anywhere_before_a_double_dash() -> None:
    assert _take_ca_bundle(["get", "envs", "--ca-bundle", "a.pem", "-o", "json"]) == [
        "get",
        "envs",
        "-o",
        "json",
    ]
    assert _take_ca_bundle(["--ca-bundle=b.pem", "get"]) == ["get"]
    assert _take_ca_bundle(["apply", "--", "--ca-bundle", "c"]) == ["apply", "--", "--ca-bundle", "c"]
    assert _take_ca_bundle(["get", "--ca-bundle"]) == ["get", "--ca-bundle"]
