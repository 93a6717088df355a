"""Bad input through the real CLI and server: exit code 2, one sentence naming file, line and field, and
nothing stored, nothing sent to AWS.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import Stack

pytestmark = pytest.mark.e2e

ENV = "name: staging\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
APP = (
    "name: web\ntype: server\nhealthcheck:\n  path: /ping\nvisibility: public\nresources:\n"
    "  cpu: 256\n  memory: 512\n  network:\n    bind_port: 80\n"
)
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1"
KIND = "apiVersion: cloudfauj.dev/v1\nkind: {kind}\nmetadata:\n  name: x\nspec: {{}}\n"

# (case, file text, extra CLI args, words the error must contain: field and line)
CASES = [
    ("bad-yaml", "name: [staging\nnetwork: aws\n", [], ["line "]),
    ("unknown-key", ENV + "colour: blue\n", [], ["colour", "line 4"]),
    ("misspelt-key", ENV.replace("network", "netwrok"), [], ["netwrok", "network", "line 2"]),
    ("bad-name", ENV.replace("staging", "Staging!"), [], ["name", "line 1"]),
    ("name-too-long-for-aws", ENV.replace("staging", "a" * 40), [], ["name", "line 1", "32"]),
    (
        "cpu-out-of-range",
        APP.replace("cpu: 256", "cpu: 5000"),
        ["--env", "dev", "--image", IMAGE],
        ["cpu", "line 7"],
    ),
    (
        "memory-out-of-range",
        APP.replace("memory: 512", "memory: 4096"),
        ["--env", "dev", "--image", IMAGE],
        ["memory", "line 8"],
    ),
    (
        "missing-field",
        "name: web\ntype: server\nvisibility: public\n",
        ["--env", "dev", "--image", IMAGE],
        ["resources"],
    ),
    (
        "wrong-type",
        APP.replace("bind_port: 80", "bind_port: eighty"),
        ["--env", "dev", "--image", IMAGE],
        ["bind_port", "line 10"],
    ),
    ("unknown-kind", KIND.format(kind="Database"), [], ["kind", "line 2"]),
    ("bad-api-version", KIND.format(kind="Environment").replace("v1", "v9"), [], ["apiVersion", "line 1"]),
    ("empty-file", "\n", [], ["no manifest"]),
    ("unsupported-network", ENV.replace("network: aws", "network: gcp"), [], ["network", "line 2"]),
    ("unknown-environment", APP, ["--env", "nowhere", "--image", IMAGE], ["nowhere"]),
    ("app-without-env", APP, ["--image", IMAGE], ["--env"]),
    ("not-a-mapping", "- a\n- b\n", [], ["line 1"]),
    (
        "app-name-too-long",
        APP.replace("name: web", "name: " + "w" * 30),
        ["--env", "dev", "--image", IMAGE],
        ["name", "line 1", "32"],
    ),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    st = Stack(tmp_path_factory.mktemp("invalid")).start()
    yield st
    st.stop()


@pytest.mark.parametrize(("case", "text", "args", "words"), CASES, ids=[c[0] for c in CASES])
def test_invalid_input_is_refused_with_a_located_sentence(
    stack: Stack, case: str, text: str, args: list[str], words: list[str]
) -> None:
    path = stack.workdir / f"{case}.yml"
    path.write_text(text)
    r = stack.cf("apply", "-f", str(path), *args)
    assert r.code == 2, str(r)
    assert "Traceback" not in r.err + r.out
    assert f"{case}.yml" in r.err, str(r)
    for word in words:
        assert word in r.err, f"{word!r} missing: {r}"


def test_nothing_was_stored_or_sent_to_aws_for_any_invalid_input(stack: Stack) -> None:
    for case, text, args, _ in CASES:
        (stack.workdir / f"{case}.yml").write_text(text)
        assert stack.cf("apply", "-f", str(stack.workdir / f"{case}.yml"), *args).code == 2
    assert stack.cf_json("get", "records") == []
    assert stack.cf_json("get", "environments") == []
    assert stack.tagged() == []
    vpcs = stack.aws("ec2").describe_vpcs()["Vpcs"]
    assert all(v.get("IsDefault") for v in vpcs), vpcs


def test_a_batch_with_one_bad_document_stores_none_of_it(stack: Stack) -> None:
    path = stack.workdir / "batch.yml"
    path.write_text(
        "apiVersion: cloudfauj.dev/v1\nkind: Environment\nmetadata: {name: good}\nspec: {network: aws}\n---\n"
        "apiVersion: cloudfauj.dev/v1\nkind: Environment\nmetadata: {name: bad}\nspec: {network: gcp}\n"
    )
    r = stack.cf("apply", "-f", str(path))
    assert r.code == 2 and "document 2" in r.err, str(r)
    assert stack.cf_json("get", "environments") == []
