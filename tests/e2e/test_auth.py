"""Tokens, roles and TLS on a real server process: every API operation × every kind of caller, what the
store keeps (never a secret), the CLI's tokens and refusals, and HTTPS with a self-signed certificate.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from cloudfauj.api import models as m
from cloudfauj.api.routes import OPERATIONS, Operation
from cloudfauj.cli.follow import TERMINAL
from cloudfauj.tokens import Role
from tests.e2e.harness import MANIFESTS, Stack, wait_for

pytestmark = pytest.mark.e2e

CALLERS = ("nobody", "viewer", "deployer", "admin", "revoked")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    st = Stack(tmp_path_factory.mktemp("auth")).start()
    yield st
    st.stop()


@pytest.fixture(scope="module")
def world(stack: Stack) -> dict[str, Any]:
    """An environment and a deployed app to aim at, and a token of each kind (by CLI, as an admin would)."""
    st = stack
    assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml")).code == 0
    image = st.push("nginx_api", "v1")
    r = st.cf(
        "deploy", "--env", "staging", image, "--config", str(MANIFESTS / "nginx_api" / ".cloudfauj.yml")
    )
    assert r.code == 0, str(r)
    secrets = {"admin": st.admin_token(), "nobody": ""}
    for name, role in (("viewer", "viewer"), ("deployer", "deployer"), ("revoked", "deployer")):
        r = st.cf("token", "create", f"{name}-token", "--role", role)
        assert r.code == 0, str(r)
        secrets[name] = r.out.strip()
    assert st.cf("token", "revoke", "revoked-token").code == 0
    deployments = st.cf_json("get", "deployments")
    return {"secrets": secrets, "image": image, "record": deployments[0]["id"]}


# -- the matrix ---------------------------------------------------------------------------------------
def allowed(op: Operation, caller: str) -> bool:
    if op.role is None:
        return True
    holders = {"viewer": Role.VIEWER, "deployer": Role.DEPLOYER, "admin": Role.ADMIN}
    return caller in holders and holders[caller].allows(op.role)


def request_for(op: Operation, world: dict[str, Any], caller: str, n: int) -> tuple[str, dict[str, Any]]:
    """The path (parameters filled) and body of one call. Objects that exist where reading or comparing
    them is harmless; dummies where a call could delete or roll back (a 404 after authorization is as
    good as a 200 here: what matters is 401/403 or not)."""
    harmful = op.method == "DELETE" or op.path.endswith("/rollback")
    app_path = "/applications/" in op.path
    values = {
        "env": "nowhere" if harmful else "staging",
        "name": "nowhere" if harmful else ("nginx_api" if app_path else "staging"),
        "id": "999999" if harmful else world["record"],
    }
    path = op.path.format(**values) if "{" in op.path else op.path
    body: dict[str, Any] = {}
    if op.body is m.ApplyRequest:  # the deployed app again: unchanged, so nothing is opened
        text = (MANIFESTS / "nginx_api" / ".cloudfauj.yml").read_text()
        body = {
            "sources": [{"name": ".cloudfauj.yml", "content": text}],
            "env": "staging",
            "image": world["image"],
        }
    elif op.body is m.TokenRequest:
        body = {"name": f"made-by-{caller}-{n}", "role": "viewer"}
    return path, {"json": body} if op.body is not None or op.method == "POST" else {}


def test_every_operation_answers_every_caller_as_its_role_says(stack: Stack, world: dict[str, Any]) -> None:
    wrong, seen = [], set()
    for n, op in enumerate(OPERATIONS):
        for caller in CALLERS:
            path, extra = request_for(op, world, caller, n)
            status = stack.api(op.method, path, token=world["secrets"][caller], **extra).status_code
            refused = status in (401, 403)
            expected = (
                "allowed" if allowed(op, caller) else (403 if caller in ("viewer", "deployer") else 401)
            )
            got = "allowed" if not refused else status
            seen.add(expected)
            if got != expected or status >= 500:
                wrong.append(f"{op.method} {op.path} as {caller}: {status}, expected {expected}")
    assert not wrong, "\n".join(wrong)
    assert seen == {"allowed", 401, 403} and len(OPERATIONS) > 20


def test_a_deployer_may_not_apply_an_environment_or_act_on_one(stack: Stack, world: dict[str, Any]) -> None:
    deployer = world["secrets"]["deployer"]
    text = (MANIFESTS / "cf-env-staging.yml").read_text()
    r = stack.api("POST", "/v1/apply", token=deployer, json={"sources": [{"name": "e.yml", "content": text}]})
    assert r.status_code == 403 and "Environment 'staging'" in r.json()["error"]["message"], r.text
    env_record = stack.cf_json("get", "records", "--kind", "Environment")[0]["id"]
    r = stack.api("POST", f"/v1/records/{env_record}/cancel", token=deployer)
    assert r.status_code == 403, r.text
    assert stack.api("POST", "/v1/environments/staging/reconcile", token=deployer).status_code == 403


def test_records_name_the_token_that_initiated_them(stack: Stack, world: dict[str, Any]) -> None:
    st = stack
    wait_for(
        lambda: all(r["status"] in TERMINAL for r in st.cf_json("get", "records")), what="open records to end"
    )
    r = st.api("POST", "/v1/applications/staging/nginx_api/reconcile", token=world["secrets"]["deployer"])
    assert r.status_code == 202, r.text
    (record,) = r.json()["records"]
    assert record["initiator"] == "deployer-token"
    initiators = {d["id"]: d["initiator"] for d in st.cf_json("get", "deployments")}
    assert initiators[world["record"]] == "admin"  # deployed through the CLI with the admin token
    assert initiators[record["id"]] == "deployer-token"


def test_a_body_over_the_limit_is_still_413_for_a_valid_token(stack: Stack, world: dict[str, Any]) -> None:
    big = {"sources": [{"name": "big.yml", "content": "#" * (1 << 20)}]}
    assert stack.api("POST", "/v1/apply", json=big).status_code == 413
    assert stack.api("POST", "/v1/apply", token="", json=big).status_code == 401


# -- what is kept, and where -----------------------------------------------------------------------------
def test_the_store_and_the_log_hold_no_secret(stack: Stack, world: dict[str, Any]) -> None:
    secrets = [s for s in world["secrets"].values() if s]
    data = b"".join(p.read_bytes() for p in stack.data_dir.glob("cloudfauj.db*"))  # the WAL too
    log = (stack.workdir / "server.log").read_text()
    for secret in secrets:
        assert secret.encode() not in data
        assert secret not in log
    with sqlite3.connect(stack.data_dir / "cloudfauj.db") as db:
        rows = db.execute("SELECT name, role, token_hash, revoked_at FROM tokens").fetchall()
    hashes = {hashlib.sha256(s.encode()).hexdigest() for s in secrets}
    assert {row[2] for row in rows} >= hashes and not {row[2] for row in rows} & set(secrets)
    assert {(row[0], row[1], row[3] is not None) for row in rows} >= {
        ("admin", "admin", False),
        ("viewer-token", "viewer", False),
        ("revoked-token", "deployer", True),
    }


def test_the_first_start_handed_the_admin_token_to_its_user_only(stack: Stack, world: dict[str, Any]) -> None:
    token_file = stack.data_dir / "admin-token"
    config = stack.workdir / "home" / ".config" / "cloudfauj" / "config.yaml"
    for path in (token_file, config):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    entry = YAML(typ="safe").load(config.read_text())["installations"][stack.installation_id()]
    assert entry["token"] == stack.admin_token() and entry["server"] == stack.url


# -- the CLI ---------------------------------------------------------------------------------------------
def test_token_create_prints_the_secret_alone_and_json_on_request(
    stack: Stack, world: dict[str, Any]
) -> None:
    r = stack.cf("token", "create", "ci-one", "--role", "deployer")
    assert r.code == 0, str(r)
    assert len(r.out.splitlines()) == 1 and r.out.startswith("cf_") and "shown only now" in r.err
    created = stack.cf_json("token", "create", "ci-two", "--role", "viewer")
    assert set(created) == {"name", "role", "token"} and created["role"] == "viewer"
    listed = stack.cf("token", "list")
    assert "ci-one" in listed.out and "deployer" in listed.out
    assert r.out.strip() not in listed.out and created["token"] not in listed.out
    assert stack.cf("token", "create", "ci-three", "--role", "root").code == 2
    assert stack.cf("token", "create", "Bad Name", "--role", "viewer").code == 2
    assert stack.cf("token", "revoke", "admin").code == 2  # the last admin token: 409


def test_roles_decide_what_the_cli_may_do(stack: Stack, world: dict[str, Any]) -> None:
    deployer, viewer = world["secrets"]["deployer"], world["secrets"]["viewer"]
    env_file = str(MANIFESTS / "cf-env-staging.yml")
    r = stack.cf("env", "create", "--config", env_file, "--token", deployer)
    assert r.code == 3 and "deployer token may not apply Environment 'staging'" in r.err, str(r)
    assert stack.cf("get", "envs", "--token", viewer).code == 0
    app_file = str(MANIFESTS / "nginx_api" / ".cloudfauj.yml")
    r = stack.cf("deploy", "--env", "staging", world["image"], "--config", app_file, "--token", viewer)
    assert r.code == 3 and "viewer token" in r.err and "deployer or admin" in r.err, str(r)
    r = stack.cf("get", "envs", "--token", world["secrets"]["revoked"])
    assert r.code == 3 and "unknown or has been revoked" in r.err, str(r)


def test_the_environment_variable_and_the_flag_come_before_the_config_file(
    stack: Stack, world: dict[str, Any]
) -> None:
    viewer = world["secrets"]["viewer"]
    r = stack.cf("token", "list", "-o", "json")  # the config file's admin token
    assert r.code == 0, str(r)
    env = {**stack.env(), "CLOUDFAUJ_TOKEN": viewer}
    r = stack.cf("token", "create", "by-env", "--role", "viewer", env=env)
    assert r.code == 3 and "viewer-token" in r.err, str(r)
    r = stack.cf("token", "create", "by-flag", "--role", "viewer", "--token", stack.admin_token(), env=env)
    assert r.code == 0, str(r)


def test_without_any_token_the_cli_says_how_to_get_one(
    stack: Stack, world: dict[str, Any], tmp_path: Path
) -> None:
    env = {**stack.env(), "HOME": str(tmp_path)}  # another user: no config file
    r = stack.cf("get", "deployments", env=env)
    assert r.code == 3, str(r)
    for words in (
        "needs an API token",
        "--token",
        "CLOUDFAUJ_TOKEN",
        "cloudfauj token create",
        "admin-token",
    ):
        assert words in r.err, (words, str(r))


def test_a_restart_creates_no_new_admin_token(stack: Stack, world: dict[str, Any]) -> None:
    before = stack.admin_token()
    stack.kill("server")
    stack.start_server()
    assert stack.admin_token() == before
    assert [t["name"] for t in stack.cf_json("token", "list") if t["role"] == "admin"] == ["admin"]
    # (last of this module's tests: the in-process sandbox restarts empty)


# -- TLS --------------------------------------------------------------------------------------------------
def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cloudfauj test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_https_with_a_self_signed_certificate_and_a_ca_bundle(tmp_path: Path) -> None:
    st = Stack(tmp_path, tls=self_signed(tmp_path))
    try:
        st.start()
        cert = str(st.tls[0]) if st.tls else ""
        assert st.url.startswith("https://")
        r = st.cf("get", "envs", "--ca-bundle", cert, "-o", "json")
        assert r.code == 0 and json.loads(r.out) == [], str(r)
        assert st.cf("--ca-bundle", cert, "token", "list").code == 0  # before the command name too
        r = st.cf("get", "envs", env={**st.env(), "CLOUDFAUJ_CA_BUNDLE": cert})
        assert r.code == 0, str(r)
        r = st.cf("get", "envs")  # the system's CAs do not know it
        assert r.code == 3 and "not trusted" in r.err and "--ca-bundle" in r.err, str(r)
        r = st.cf("get", "envs", "--ca-bundle", str(tmp_path / "missing.pem"))
        assert r.code == 2 and "missing.pem" in r.err, str(r)
        plain = st.url.replace("https://", "http://")
        assert st.cf("get", "envs", "--server", plain).code == 3
        assert "https://" in st.log("server")
    finally:
        st.stop()


def test_a_certificate_without_its_key_is_refused_at_start(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    st = Stack(tmp_path)
    r = st.cf("server", "--data-dir", str(tmp_path / "data"), "--tls-cert", str(cert), timeout=60)
    assert r.code == 2 and "tls_cert and tls_key go together" in r.err, str(r)
