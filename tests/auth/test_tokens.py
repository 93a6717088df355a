"""The token core: the role rule, what is kept of a secret, the authenticator over the store, the first
start's admin token, and the user's CLI config file it goes into.
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudfauj import userconfig
from cloudfauj.errors import Forbidden
from cloudfauj.store import SqliteStore
from cloudfauj.tokens import (
    Identity,
    Role,
    TokenAuthenticator,
    ensure_admin_token,
    hash_secret,
    new_secret,
    require_change,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "cloudfauj.db")
    yield s
    s.close()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "cloudfauj" / "config.yaml"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_each_role_may_do_what_the_one_below_may() -> None:
    assert Role.ADMIN.allows(Role.DEPLOYER) and Role.DEPLOYER.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.DEPLOYER) and not Role.DEPLOYER.allows(Role.ADMIN)
    assert Role.DEPLOYER.holders() == "deployer or admin"


def test_a_deployer_changes_applications_only() -> None:
    require_change(Role.DEPLOYER, "Application", "web", verb="apply")
    require_change(Role.ADMIN, "Domain", "example.com", verb="delete")
    with pytest.raises(Forbidden, match="deployer token may not apply Environment 'staging'"):
        require_change(Role.DEPLOYER, "Environment", "staging", verb="apply")


def test_secrets_are_random_and_only_their_sha256_is_kept() -> None:
    a, b = new_secret(), new_secret()
    assert a != b and a.startswith("cf_") and len(a) >= 40
    assert hash_secret(a) == hashlib.sha256(a.encode()).hexdigest() != a


def test_the_authenticator_knows_stored_tokens_until_they_are_revoked(store: SqliteStore) -> None:
    secret = new_secret()
    store.create_first_admin("admin", hash_secret(new_secret()), publish=lambda: None)
    store.create_token("ci", Role.DEPLOYER, hash_secret(secret))
    auth = TokenAuthenticator(store)
    assert auth.authenticate(secret) == Identity("ci", Role.DEPLOYER)
    assert auth.authenticate(secret + "x") is None and auth.authenticate("") is None
    store.revoke_token("ci")
    assert auth.authenticate(secret) is None


def test_the_first_start_hands_the_admin_token_over_once(
    store: SqliteStore, tmp_path: Path, config: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    written = ensure_admin_token(store, data_dir=data, installation_id="inst1", server="http://127.0.0.1:1")
    assert written == [data / "admin-token", config]
    secret = (data / "admin-token").read_text().strip()
    assert mode(data / "admin-token") == 0o600 and mode(config) == 0o600 and mode(config.parent) == 0o700
    assert userconfig.installation_tokens() == {"inst1": secret}
    assert TokenAuthenticator(store).authenticate(secret) == Identity("admin", Role.ADMIN)
    again = ensure_admin_token(store, data_dir=data, installation_id="inst1", server="http://127.0.0.1:1")
    assert again == [] and (data / "admin-token").read_text().strip() == secret


def test_an_admin_token_that_could_not_be_written_is_not_stored(
    store: SqliteStore, tmp_path: Path, config: Path
) -> None:
    with pytest.raises(OSError):
        ensure_admin_token(store, data_dir=tmp_path / "missing", installation_id="i", server="http://x")
    assert store.list_tokens() == []


def test_the_config_file_keeps_other_installations_and_comments(config: Path) -> None:
    config.parent.mkdir(parents=True)
    config.write_text("# mine\ninstallations:\n  other:\n    token: cf_other  # keep\ncolour: blue\n")
    config.chmod(0o644)
    userconfig.save_token("inst1", "cf_new", server="https://h:1")
    text = config.read_text()
    assert "# mine" in text and "# keep" in text and "colour: blue" in text
    assert userconfig.installation_tokens() == {"other": "cf_other", "inst1": "cf_new"}
    assert mode(config) == 0o600
    userconfig.save_token("inst1", "cf_newer", server="https://h:1")
    assert userconfig.installation_tokens()["inst1"] == "cf_newer"


def test_a_broken_config_file_is_reported_not_overwritten(config: Path) -> None:
    config.parent.mkdir(parents=True)
    config.write_text("installations: [oops\n")
    with pytest.raises(userconfig.ConfigError, match="not valid YAML"):
        userconfig.installation_tokens()
    with pytest.raises(userconfig.ConfigError):
        userconfig.save_token("inst1", "cf_x", server="http://x")
    assert config.read_text() == "installations: [oops\n"


def test_the_config_path_follows_xdg_and_ignores_a_relative_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")
    assert userconfig.config_path() == tmp_path / ".config" / "cloudfauj" / "config.yaml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "x"))
    assert userconfig.config_path() == tmp_path / "x" / "cloudfauj" / "config.yaml"
