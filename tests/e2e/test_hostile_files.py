"""A few hostile manifest files through the real CLI, as a subprocess, against a real server: exit code 2,
one sentence naming the file (and the line where there is one), no traceback, and nothing stored or
created in AWS. The whole corpus runs in-process in tests/api/test_hostile_input.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import Stack

pytestmark = pytest.mark.e2e

ENV = b"name: staging\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
LAUGHS = b"lol0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
    f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n".encode() for i in range(1, 9)
)

# (case, file content, words stderr must hold besides the file's name)
CASES = [
    ("latin-1", ENV.replace(b"staging", b"st\xe4ging"), ["line 1 is not UTF-8 text", "0xe4"]),
    ("two-megabytes", ENV + b"#" + b"x" * (2 << 20) + b"\n", ["at most 1048576"]),
    ("billion-laughs", ENV + LAUGHS, ["line 1", "expands to more than 10000 values"]),
    ("python-tag", b"name: !!python/object/apply:os.system ['id']\n", ["line 1", "not allowed"]),
    ("deep-nesting", b"name: " + b"[" * 10000 + b"]" * 10000 + b"\n", ["line 1", "nested more than 32"]),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    st = Stack(tmp_path_factory.mktemp("hostile")).start()
    yield st
    st.stop()


@pytest.mark.parametrize(("case", "content", "words"), CASES, ids=[c[0] for c in CASES])
def test_a_hostile_file_exits_2_with_a_located_sentence(
    stack: Stack, case: str, content: bytes, words: list[str]
) -> None:
    path = stack.workdir / f"{case}.yml"
    path.write_bytes(content)
    r = stack.cf("apply", "-f", path.name, "--no-wait", timeout=60)
    assert r.code == 2, str(r)
    assert "Traceback" not in r.err + r.out
    assert f"{case}.yml" in r.err, str(r)
    for word in words:
        assert word in r.err, f"{word!r} missing: {r}"


def test_nothing_was_stored_or_created_for_any_hostile_file(stack: Stack) -> None:
    for case, content, _ in CASES:
        (stack.workdir / f"{case}.yml").write_bytes(content)
        assert stack.cf("apply", "-f", f"{case}.yml", "--no-wait", timeout=60).code == 2
    assert stack.cf_json("get", "records") == []
    assert stack.cf_json("get", "environments") == []
    assert stack.tagged() == []
