"""Hostile and malformed input, case by case: a 4xx with one located sentence, and nothing stored.

Each case is one request to the real app over a real `Service` and SQLite store (in-process), with one
thing wrong: huge names and bodies, deep nesting, alias bombs, YAML tags, wrong types, unicode tricks,
path-like names, empty and duplicated documents and keys, bad encodings, unknown fields at every level,
out-of-range numbers, names too long for AWS, references to nothing. The answer must be the documented
4xx, its message must name the file, line and field where there is one (`where`), and the store must
still hold no object and no record.

Every case that is a manifest file is then applied again with the real CLI (in-process, against the same
app served on loopback): exit code 2 and the same sentence on stderr. A few more go through the CLI as a
subprocess against a real server in tests/e2e/test_hostile_files.py.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from cloudfauj.cli.main import app as cli
from tests.api.conftest import TestClient
from tests.api.real import RealApp

ENV = "name: staging\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
UPSTREAM_APP = (
    "name: web\ntype: server\nhealthcheck:\n  path: /ping\nresources:\n  cpu: 256\n  memory: 512\n"
    "  network:\n    bind_port: 80\n"
)
KIND_ENV = (
    "apiVersion: cloudfauj.dev/v1\nkind: Environment\nmetadata:\n  name: staging\nspec:\n  network: aws\n"
)
KIND_APP = """\
apiVersion: cloudfauj.dev/v1
kind: Application
metadata:
  name: web
  env: staging
spec:
  image: repo/web:v1
  healthcheck:
    path: /
  resources:
    cpu: 256
    memory: 512
    network:
      bind_port: 80
"""
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1"
LAUGHS = "lol0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)
)


def files(*named: tuple[str, str], **fields: Any) -> dict[str, Any]:
    """An apply body: these (file name, text) sources, and the other fields as given."""
    return {"sources": [{"name": n, "content": t} for n, t in named], **fields}


def env_file(text: str) -> dict[str, Any]:
    return files(("env.yml", text))


def app_file(text: str = KIND_APP, **flags: Any) -> dict[str, Any]:
    return files(("app.yml", text), **flags)


@dataclass(frozen=True)
class Case:
    body: Any  # the request body: a dict sent as JSON, or the bytes themselves
    says: tuple[str, ...]  # what the error message must contain
    where: tuple[str | None, int | None, str | None] | None = None  # the one problem's file, line, field
    status: int = 400
    path: str = "/v1/apply"
    method: str = "POST"
    cli_says: tuple[str, ...] | None = None  # what the CLI says instead, when it refuses before sending


CASES: dict[str, Case] = {
    # -- size ------------------------------------------------------------------------------------------
    "a 10 KB name": Case(
        env_file(ENV.replace("staging", "a" * 10240)),
        ("at most 63 characters, not 10240",),
        ("env.yml", 1, "name"),
    ),
    "a 10 KB name with a bad character is quoted short": Case(
        env_file(ENV.replace("staging", "A" * 10240)), ("(10240 characters)",), ("env.yml", 1, "name")
    ),
    "a 10 KB file name": Case(
        files(("f" * 10240 + ".yml", ENV)), ("at most 1000 characters",), (None, None, "sources.0.name")
    ),
    "a 10 KB image": Case(
        app_file(UPSTREAM_APP, env="staging", image="repo/" + "x" * 10240),
        ("at most 1000",),
        (None, None, "image"),
    ),
    "a body over 1 MB": Case(
        env_file(ENV + "#" + "x" * (1 << 20) + "\n"),
        ("larger than the server's limit of 1048576 bytes",),
        status=413,
        cli_says=("has 1048635 bytes", "at most 1048576"),
    ),
    "more than 500 documents": Case(
        env_file("".join(f"---\nname: e{i}\nnetwork: aws\n" for i in range(501))),
        ("more than 500 documents",),
        ("env.yml", None, None),
    ),
    # -- nesting ---------------------------------------------------------------------------------------
    "10 000 nested lists in YAML": Case(
        env_file("name: " + "[" * 10000 + "]" * 10000 + "\n"),
        ("nested more than 32 levels",),
        ("env.yml", 1, None),
    ),
    "10 000 nested maps in YAML": Case(
        env_file("name: " + "{a: " * 10000 + "1" + "}" * 10000 + "\n"),
        ("nested more than 32 levels",),
        ("env.yml", 1, None),
    ),
    "100 nested block mappings": Case(
        env_file("".join(" " * i + f"k{i}:\n" for i in range(100))),
        ("nested more than 32 levels",),
        ("env.yml", 33, None),
    ),
    "10 000 nested objects in a JSON manifest": Case(
        files(("env.json", '{"name": ' + '{"a": ' * 10000 + "1" + "}" * 10000 + "}")),
        ("nested more than 32 levels",),
        ("env.json", 1, None),
    ),
    "10 000 nested lists as the JSON body": Case(
        b"[" * 10000 + b"]" * 10000,
        ("The request body is not usable JSON: its values are nested too deeply",),
    ),
    # -- aliases ---------------------------------------------------------------------------------------
    "a billion laughs": Case(
        env_file(ENV + LAUGHS),
        ("expands to more than 10000 values through its aliases",),
        ("env.yml", 1, None),
    ),
    "more than 100 aliases": Case(
        env_file("x: &x 1\n" + ENV + "y: [" + ", ".join(["*x"] * 101) + "]\n"),
        ("it uses more than 100 aliases",),
        ("env.yml", 5, None),
    ),
    # -- tags ------------------------------------------------------------------------------------------
    "a !!python/object/apply tag": Case(
        env_file("name: !!python/object/apply:os.system ['touch /tmp/pwned']\nnetwork: aws\n"),
        ("the tag '!!python/object/apply:os.system' is not allowed",),
        ("env.yml", 1, None),
    ),
    "a !!python/name tag": Case(
        env_file(ENV + "orchestrator_hook: !!python/name:os.system\n"),
        ("the tag '!!python/name:os.system' is not allowed",),
        ("env.yml", 4, None),
    ),
    "a python tag behind a %TAG directive": Case(
        env_file("%TAG !p! tag:yaml.org,2002:python/\n---\nname: !p!object:os.system x\nnetwork: aws\n"),
        ("the tag '!!python/object:os.system' is not allowed",),
        ("env.yml", 3, None),
    ),
    "a custom tag": Case(
        env_file("name: !secret staging\nnetwork: aws\n"),
        ("the tag '!secret' is not allowed",),
        ("env.yml", 1, None),
    ),
    "a !!binary value": Case(
        env_file("name: !!binary c3RhZ2luZw==\nnetwork: aws\n"),
        ("the tag '!!binary' is not allowed",),
        ("env.yml", 1, None),
    ),
    # -- wrong types -----------------------------------------------------------------------------------
    "a list for spec": Case(
        env_file(KIND_ENV.replace("spec:\n  network: aws\n", "spec:\n  - network: aws\n")),
        ("must be a mapping of keys to values, not a list",),
        ("env.yml", 5, "spec"),
    ),
    "a string for replicas": Case(
        app_file(KIND_APP + "  replicas: many\n"),
        ("must be an integer, not 'many'",),
        ("app.yml", 15, "spec.replicas"),
    ),
    "a boolean for cpu": Case(
        app_file(KIND_APP.replace("cpu: 256", "cpu: true")),
        ("must be an integer, not the boolean true",),
        ("app.yml", 11, "spec.resources.cpu"),
    ),
    "a float for memory": Case(
        app_file(KIND_APP.replace("memory: 512", "memory: 512.5")),
        ("must be an integer, not the number 512.5",),
        ("app.yml", 12, "spec.resources.memory"),
    ),
    "a mapping for a name": Case(
        env_file(ENV.replace("name: staging", "name: {first: staging}")),
        ("must be a string",),
        ("env.yml", 1, "name"),
    ),
    # -- unicode tricks --------------------------------------------------------------------------------
    "a right-to-left override in a name": Case(
        env_file(ENV.replace("staging", "stag\u202eing")), ("not 'stag\\u202eing'",), ("env.yml", 1, "name")
    ),
    "a zero-width space in a name": Case(
        env_file(ENV.replace("staging", "stag\u200bing")), ("not 'stag\\u200bing'",), ("env.yml", 1, "name")
    ),
    "a Cyrillic look-alike in a name": Case(
        env_file(ENV.replace("staging", "st\u0430ging")), ("not 'st\\u0430ging'",), ("env.yml", 1, "name")
    ),
    "a NUL byte in a file": Case(
        env_file(ENV.replace("staging", "stag\x00ing")),
        ("character #x0000 is not allowed",),
        ("env.yml", 1, None),
    ),
    "a NUL byte in --env": Case(
        app_file(UPSTREAM_APP, env="stag\x00ing", image=IMAGE),
        ("not 'stag\\x00ing'",),
        ("app.yml", 1, "--env"),
    ),
    "a lone surrogate in the JSON of a file name": Case(
        b'{"sources": [{"name": "\\ud800.yml", "content": "name: x"}]}',
        ("unable to parse raw data as a unicode string",),
        (None, None, "sources.0.name"),
    ),
    "a lone surrogate in the JSON of a file": Case(
        b'{"sources": [{"name": "env.yml", "content": "name: sta\\udc00ging\\nnetwork: aws\\n"}]}',
        ("character #xdc00 is not allowed",),
        ("env.yml", 1, None),
    ),
    "a lone surrogate escaped in YAML": Case(
        env_file('name: "sta\\ud800ging"\nnetwork: aws\n'), ("not 'sta\\ud800ging'",), ("env.yml", 1, "name")
    ),
    # -- path-like names -------------------------------------------------------------------------------
    "a name that climbs a directory": Case(
        env_file(ENV.replace("staging", "../x")), ("not '../x'",), ("env.yml", 1, "name")
    ),
    "a name with a slash": Case(
        app_file(KIND_APP.replace("name: web", "name: a/b")), ("not 'a/b'",), ("app.yml", 4, "metadata.name")
    ),
    "a percent-encoded name": Case(
        env_file(ENV.replace("staging", "'%2e%2e'")), ("not '%2e%2e'",), ("env.yml", 1, "name")
    ),
    # -- empty, duplicated, several documents ----------------------------------------------------------
    "an empty file": Case(
        env_file(""), ("the file contains no manifest documents",), ("env.yml", None, None)
    ),
    "a file of empty documents": Case(
        env_file("---\n---\n# nothing\n"),
        ("the file contains no manifest documents",),
        ("env.yml", None, None),
    ),
    "a key twice in a file": Case(
        env_file(ENV + "network: gcp\n"), ('found duplicate key "network"',), ("env.yml", 4, None)
    ),
    "a key twice in the JSON body": Case(
        b'{"sources": [{"name": "a.yml", "content": "x"}], "sources": []}',
        ('the key "sources" appears twice in one object',),
    ),
    "one bad document among good ones": Case(
        env_file(ENV + "---\n" + ENV.replace("staging", "prod").replace("network: aws", "network: gcp")),
        ("document 2", "only 'aws' is supported, not 'gcp'"),
        ("env.yml", 6, "network"),
    ),
    # -- encodings and JSON ----------------------------------------------------------------------------
    "a body that is not UTF-8": Case(
        b'{"sources": [{"name": "env.yml", "content": "name: \xff"}]}',
        ("The request body is not UTF-8 text: byte 0xff at offset 51",),
    ),
    "a body that is not JSON": Case(b'{"sources": [', ("The request body is not valid JSON",)),
    "NaN in the JSON body": Case(
        b'{"sources": [{"name": "a.yml", "content": "x"}], "deadline_seconds": NaN}',
        ("NaN is not a JSON number",),
    ),
    "a 5000-digit number in the JSON body": Case(
        b'{"sources": [], "deadline_seconds": ' + b"9" * 5000 + b"}", ("a number has 5000 digits",)
    ),
    "a JSON list as the body": Case(b"[]", ("Input should be a valid dictionary",)),
    "an empty body": Case(b"", ("The request body is not valid JSON",)),
    # -- unknown fields at every level -----------------------------------------------------------------
    "an unknown field of the body": Case(
        {**env_file(ENV), "colour": "blue"}, ("is not a known field",), (None, None, "colour")
    ),
    "an unknown field of a source": Case(
        {"sources": [{"name": "env.yml", "content": ENV, "mode": "0644"}]},
        ("is not a known field",),
        (None, None, "sources.0.mode"),
    ),
    "an unknown key of an upstream file": Case(
        env_file(ENV + "colour: blue\n"),
        ("unknown key; the keys allowed here are",),
        ("env.yml", 4, "colour"),
    ),
    "an unknown top-level key": Case(
        env_file(KIND_ENV + "status: {}\n"), ("unknown key",), ("env.yml", 7, "status")
    ),
    "an unknown key of metadata": Case(
        app_file(KIND_APP.replace("  env: staging\n", "  env: staging\n  labels: {a: b}\n")),
        ("unknown key",),
        ("app.yml", 6, "metadata.labels"),
    ),
    "an unknown key of spec": Case(
        app_file(KIND_APP + "  colour: blue\n"), ("unknown key",), ("app.yml", 15, "spec.colour")
    ),
    "a misspelt key of spec.resources": Case(
        app_file(KIND_APP.replace("memory: 512", "memroy: 512")),
        ("unknown key; did you mean 'memory'?",),
        ("app.yml", 12, "spec.resources.memroy"),
    ),
    "an unknown key of spec.resources.network": Case(
        app_file(KIND_APP + "      protocol: udp\n"),
        ("unknown key",),
        ("app.yml", 15, "spec.resources.network.protocol"),
    ),
    "an unknown key of spec.healthcheck": Case(
        # (interval is a key since container health checks; healthy_threshold is the load balancer's, unset)
        app_file(KIND_APP.replace("    path: /\n", "    path: /\n    healthy_threshold: 5\n")),
        ("unknown key",),
        ("app.yml", 10, "spec.healthcheck.healthy_threshold"),
    ),
    # -- numbers out of range --------------------------------------------------------------------------
    "a negative cpu": Case(
        app_file(KIND_APP.replace("cpu: 256", "cpu: -1")), ("cpu",), ("app.yml", 11, "spec.resources.cpu")
    ),
    "zero memory": Case(
        app_file(KIND_APP.replace("memory: 512", "memory: 0")),
        ("memory",),
        ("app.yml", 12, "spec.resources.memory"),
    ),
    "a cpu beyond Fargate's": Case(
        app_file(KIND_APP.replace("cpu: 256", "cpu: 5000")), ("4096",), ("app.yml", 11, "spec.resources.cpu")
    ),
    "a million replicas": Case(
        app_file(KIND_APP + "  replicas: 1000000\n"),
        ("must be at most 100",),
        ("app.yml", 15, "spec.replicas"),
    ),
    "negative replicas": Case(
        app_file(KIND_APP + "  replicas: -1\n"), ("must be at least 0",), ("app.yml", 15, "spec.replicas")
    ),
    "port zero": Case(
        app_file(KIND_APP.replace("bind_port: 80", "bind_port: 0")),
        ("must be at least 1",),
        ("app.yml", 14, "spec.resources.network.bind_port"),
    ),
    "a port past 65535": Case(
        app_file(KIND_APP.replace("bind_port: 80", "bind_port: 70000")),
        ("must be at most 65535",),
        ("app.yml", 14, "spec.resources.network.bind_port"),
    ),
    "a number of 5000 digits": Case(
        app_file(KIND_APP + "  replicas: " + "9" * 5000 + "\n"),
        ("a number has 5000 characters; no field takes more than 100",),
        ("app.yml", 15, None),
    ),
    # -- names and references --------------------------------------------------------------------------
    "an environment name too long for AWS names": Case(
        env_file(ENV.replace("staging", "e" * 26)),
        ("keep environment names within 25 characters",),
        ("env.yml", 1, "name"),
    ),
    "an application whose environment does not exist": Case(
        app_file(KIND_APP.replace("env: staging", "env: nowhere")),
        ("environment 'nowhere' does not exist",),
        ("app.yml", 5, "metadata.env"),
    ),
    "a misspelt kind": Case(
        env_file(KIND_ENV.replace("Environment", "Enviroment")),
        ("not 'Enviroment'; did you mean 'Environment'?",),
        ("env.yml", 2, "kind"),
    ),
    "a misspelt apiVersion": Case(
        env_file(KIND_ENV.replace("cloudfauj.dev/v1", "cloudfauj.dev/v1beta1")),
        ("must be 'cloudfauj.dev/v1'",),
        ("env.yml", 1, "apiVersion"),
    ),
    # -- query strings and paths -----------------------------------------------------------------------
    "a limit that is not a number": Case(
        None,
        ("unable to parse string as an integer",),
        (None, None, "limit"),
        path="/v1/records?limit=ten",
        method="GET",
    ),
    "a limit of zero": Case(
        None,
        ("greater than or equal to 1",),
        (None, None, "limit"),
        path="/v1/environments?limit=0",
        method="GET",
    ),
    "an unknown query parameter": Case(
        None,
        ("is not a known field",),
        (None, None, "colour"),
        path="/v1/environments?colour=blue",
        method="GET",
    ),
    "an event seq past SQLite's integers": Case(
        None,
        ("less than or equal to 9223372036854775807",),
        (None, None, "after"),
        path="/v1/records/1/events?after=99999999999999999999",
        method="GET",
    ),
    "a record id past SQLite's integers": Case(
        None, ("does not exist",), status=404, path="/v1/records/99999999999999999999", method="GET"
    ),
    "a record id of superscript digits": Case(
        None, ("does not exist",), status=404, path="/v1/records/%C2%B2%C2%B3", method="GET"
    ),
    "a log window of 5000 digits": Case(
        None,
        ("must be a whole number and a unit",),
        (None, None, "since"),
        path="/v1/environments/staging/applications/web/logs?since=" + "9" * 5000 + "s",
        method="GET",
    ),
    "a log cursor of 5000 digits": Case(
        None,
        ("is not a cursor this server gave",),
        (None, None, "cursor"),
        path="/v1/environments/staging/applications/web/logs?cursor=" + "9" * 5000 + ":",
        method="GET",
    ),
    "a record cursor past SQLite's integers": Case(
        None, (), status=200, path="/v1/records?cursor=99999999999999999999", method="GET"
    ),
}


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealApp]:
    r = RealApp(tmp_path_factory.mktemp("hostile"))
    yield r
    r.close()


@pytest.fixture(scope="module")
def client(real: RealApp) -> Iterator[TestClient]:
    with TestClient(real.app, raise_server_exceptions=False) as c:
        yield c


def test_the_corpus_has_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_hostile_input_is_refused_with_one_located_sentence_and_nothing_stored(
    case: Case, real: RealApp, client: TestClient
) -> None:
    content = case.body if case.body is None or isinstance(case.body, bytes) else json.dumps(case.body)
    headers = {**real.headers, "content-type": "application/json"}
    response = client.request(case.method, case.path, content=content, headers=headers)
    assert response.status_code == case.status, response.text
    assert real.stored() == ([], []), "something was stored"
    if case.status == 200:
        return
    error = response.json()["error"]
    assert "Traceback" not in response.text
    for words in case.says:
        assert words in error["message"], error["message"]
    if case.where is not None:
        (problem,) = error["details"]  # one thing is wrong, so one problem is reported
        assert (problem["file"], problem["line"], problem["field"]) == case.where, problem
        assert problem["sentence"] in error["message"]


# -- the same files through the real CLI -----------------------------------------------------------------
def _file_of(case: Case) -> tuple[str, str, list[str]] | None:
    """(file name, text, CLI flags) when the case is one manifest file the CLI can send as it is."""
    body = case.body
    if case.path != "/v1/apply" or not isinstance(body, dict) or set(body) - {"sources", "env", "image"}:
        return None
    if len(body["sources"]) != 1 or set(body["sources"][0]) != {"name", "content"}:
        return None
    name, text = body["sources"][0]["name"], body["sources"][0]["content"]
    if len(name) > 100 or "\x00" in text or any("\x00" in str(v) for v in body.values()):
        return None  # a name no file system takes; a NUL no argv or (here) file carries
    flags = [arg for key in ("env", "image") if key in body for arg in (f"--{key}", body[key])]
    return name, text, flags


FILE_CASES = {name: case for name, case in CASES.items() if _file_of(case) is not None}


@pytest.fixture(scope="module")
def server(real: RealApp) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(real.app, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="hostile-input-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert srv.started, "the API server did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.mark.parametrize("case", FILE_CASES.values(), ids=list(FILE_CASES))
def test_the_cli_refuses_each_hostile_file_with_exit_2_and_the_sentence(
    case: Case, real: RealApp, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = _file_of(case)
    assert found is not None
    name, text, flags = found
    (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLOUDFAUJ_SERVER", server)
    monkeypatch.setenv("CLOUDFAUJ_TOKEN", real.token or "")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("NO_COLOR", "1")
    r = CliRunner().invoke(cli, ["apply", "-f", name, *flags, "--no-wait"])
    assert r.exit_code == 2, f"exit {r.exit_code}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stdout + r.stderr
    for words in case.cli_says or case.says:
        assert words in r.stderr, r.stderr
    if case.where is not None and case.where[0] is not None:
        file, line, field = case.where
        assert file in r.stderr and (line is None or f"line {line}" in r.stderr), r.stderr
        assert field is None or field in r.stderr, r.stderr
    assert real.stored() == ([], []), "something was stored"
