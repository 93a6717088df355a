"""The quick path (libyaml, no positions) gives exactly what the exact path gives, or steps aside."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudfauj.errors import InvalidInput
from cloudfauj.manifests import Source, parse
from cloudfauj.manifests.limits import Budget
from cloudfauj.manifests.loader import read_documents_quickly

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(  # the example manifests (manifests/ci holds CI workflow files, not manifests)
    p
    for p in (ROOT / "manifests").rglob("*")
    if p.is_file() and p.name.endswith((".yml", ".yaml")) and "ci" not in p.relative_to(ROOT).parts
)

APP = """apiVersion: cloudfauj.dev/v1
kind: Application
metadata: {name: web, env: staging}
spec:
  image: "repo/web:v1"
  resources: {cpu: 256, memory: 512, network: {bind_port: 80}}
  healthcheck:
    path: /ping
"""


def exact(sources: list[Source], **flags: str) -> list[parse.ParsedDocument]:
    with pytest.MonkeyPatch.context() as m:
        m.setattr(parse, "_parse_quickly", lambda *a, **k: None)
        return parse.parse_sources(sources, **flags)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_example_file_reads_to_the_same_manifests_either_way(path: Path) -> None:
    source = Source(path.name, path.read_text())
    flags = {"env": "staging", "image": "repo/web:v1"} if path.name == ".cloudfauj.yml" else {}
    quick = parse._parse_quickly([source], env=flags.get("env"), image=flags.get("image"))
    slow = exact([source], **flags)
    assert [d.manifest for d in parse.parse_sources([source], **flags)] == [d.manifest for d in slow]  # type: ignore[arg-type]
    if path.name != "workloads.yml":  # its `Action: [sqs:SendMessage]` is YAML 1.2 only: libyaml refuses
        assert quick is not None, "a plain example file should take the quick path"
    if quick is not None:
        assert [d.manifest for d in quick] == [d.manifest for d in slow]
        assert [d.document for d in quick] == [d.document for d in slow]


def test_var_flags_reach_quickly_read_applications_as_they_reach_exactly_read_ones() -> None:
    variables = {"RELEASE": "abc"}
    [quick] = parse.parse_sources([Source("web.yml", APP)], variables=variables)
    [slow] = exact([Source("web.yml", APP)], variables=variables)  # type: ignore[arg-type]
    assert quick.manifest == slow.manifest
    assert quick.manifest.spec.variables == variables  # type: ignore[union-attr]


def test_a_quickly_read_document_still_knows_its_lines_when_asked() -> None:
    [doc] = parse.parse_sources([Source("web.yml", APP)])
    assert doc.locator is None  # read quickly: no positions yet
    problem = doc.problem("metadata.env", "environment 'staging' does not exist")
    assert (problem.file, problem.line, problem.field) == ("web.yml", 3, "metadata.env")
    assert doc.line_of("spec.healthcheck.path") == 8


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",  # anchors and aliases: bounded by the exact reader
        "a: !!str 1\n",  # tags
        "%YAML 1.2\n---\na: 1\n",  # directives
        "a:\n\tb: 1\n",  # tabs
        "name: caf\u00e9\n",  # non-ASCII
        "a: " + "9" * 101 + "\n",  # long numbers
        "a: " + "[" * 40 + "]" * 40 + "\n",  # deep flow nesting
        "".join(" " * i + f"k{i}:\n" for i in range(70)),  # deep block nesting
        "- - - - 1\n",  # nested sequences on one line
        "a: 1\na: 2\n",  # duplicate keys (libyaml reads them; the exact reader says where)
        "a: [1\n",  # broken
        "just a string\n",
    ],
)
def test_anything_unusual_steps_aside_to_the_exact_reader(text: str) -> None:
    assert read_documents_quickly(Source("f.yml", text), Budget()) is None


def test_an_invalid_batch_is_reported_by_the_exact_reader_with_lines() -> None:
    bad = APP.replace("  resources:", "  colour: red\n  resources:")
    with pytest.raises(InvalidInput) as quick:
        parse.parse_sources([Source("web.yml", bad)])
    with pytest.raises(InvalidInput) as slow:
        exact([Source("web.yml", bad)])
    assert [p.to_dict() for p in quick.value.problems] == [p.to_dict() for p in slow.value.problems]
    assert quick.value.problems[0].line == 6


def test_a_duplicate_across_files_is_found_either_way() -> None:
    with pytest.raises(InvalidInput, match="defined twice"):
        parse.parse_sources([Source("a.yml", APP), Source("b.yml", APP)])


SCALARS = """ints: [0, 7, -7, +7, 1_000, 0b101, 0o17, 0x1F, -0x1f, 012]
floats: [1.5, -1.5, 1e3, 1.5E-3, .5, .inf, -.Inf, +.INF, 1_0.5]
bools: [true, True, TRUE, false, False, FALSE]
strings: [yes, no, on, off, y, n, 'true', "1", 1.2.3, 0x, -, ~x, null-ish]
clock: 12:30
nulls: [null, Null, NULL, ~, '']
empty:
nested: {a: {b: [1, {c: d}]}}
"""


def test_scalars_read_quickly_are_the_values_the_exact_reader_gives() -> None:
    import math

    from cloudfauj.manifests.loader import read_documents, to_plain

    source = Source("f.yml", SCALARS)
    [quick] = read_documents_quickly(source, Budget()) or []
    [slow], problems = read_documents(source)
    assert not problems
    expected = to_plain(slow.tree)
    assert quick.tree == expected
    assert [type(v) for v in quick.tree["ints"]] == [type(v) for v in expected["ints"]]
    assert [type(v) for v in quick.tree["floats"]] == [type(v) for v in expected["floats"]]
    [nans] = read_documents_quickly(Source("n.yml", "x: [.nan, .NaN]\n"), Budget()) or []
    assert all(math.isnan(v) for v in nans.tree["x"])


@pytest.mark.parametrize(
    "text", ["<<: {a: 1}\nb: 2\n", "when: 2026-11-26\n", "a: =\n", "1: a\n", "? [a]\n: b\n"]
)
def test_merge_keys_timestamps_keys_not_strings_and_other_rare_things_step_aside(text: str) -> None:
    assert read_documents_quickly(Source("f.yml", text), Budget()) is None
