"""`diff` and `apply --dry-run` send the apply's body to `/v1/diff` and print what would change: per
object, per AWS resource, `old -> new` per field, in plain text (or the document with `-o json|yaml`).
`diff` exits as kubectl's does (0 nothing would change, 1 something would, 2 invalid input, 3 server
unreachable); `apply --dry-run` exits 0 and applies nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloudfauj.cli.diffs import render
from tests.cli.conftest import Server, free_port
from tests.cli.helpers import APP, CF, ENV, IMAGE, write

RESULT: dict[str, Any] = {
    "changed": True,
    "objects": [
        {
            "kind": "Environment",
            "name": "staging",
            "env": None,
            "action": "unchanged",
            "changes": [],
            "message": None,
        },
        {
            "kind": "Application",
            "name": "web",
            "env": "staging",
            "action": "update",
            "message": None,
            "changes": [
                {
                    "resource": "task-definition arn:td/web:1",
                    "action": "update",
                    "fields": [
                        {"path": "cpu", "old": "256", "new": "512"},
                        {"path": "image", "old": "web:v1 (sha256:aa…)", "new": "web:v2 (sha256:bb…)"},
                    ],
                },
                {
                    "resource": "service web",
                    "action": "update",
                    "fields": [{"path": "desiredCount", "old": 1, "new": 2}],
                },
            ],
        },
        {
            "kind": "Application",
            "name": "api",
            "env": "staging",
            "action": "create",
            "message": None,
            "changes": [
                {
                    "resource": "security-group",
                    "action": "create",
                    "fields": [{"path": "ingress", "old": None, "new": [["tcp", 80, 80, "0.0.0.0/0"]]}],
                },
            ],
        },
        {
            "kind": "Application",
            "name": "jobs",
            "env": "prod",
            "action": "waiting",
            "changes": [],
            "message": "would be created once environment prod is ready",
        },
    ],
}


def test_a_diff_reads_as_one_line_per_object_resource_and_field(monkeypatch: Any) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert render(RESULT) == [
        "environment/staging: unchanged",
        "application/web in staging: update",
        "  ~ task-definition arn:td/web:1",
        "      cpu: 256 -> 512",
        "      image: web:v1 (sha256:aa…) -> web:v2 (sha256:bb…)",
        "  ~ service web",
        "      desiredCount: 1 -> 2",
        "application/api in staging: create",
        "  + security-group",
        '      ingress: [["tcp", 80, 80, "0.0.0.0/0"]]',
        "application/jobs in prod: would be created once environment prod is ready",
        "3 object(s) would change, 1 unchanged.",
    ]


def test_notes_and_absent_values_are_spelled_out(monkeypatch: Any) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    obj = {
        "kind": "Environment",
        "name": "prod",
        "env": None,
        "action": "update",
        "message": "no AWS resource would change; the spec would (domain)",
        "changes": [
            {
                "resource": "load-balancer",
                "action": "delete",
                "fields": [{"path": "x", "old": 1, "new": None}],
            }
        ],
    }
    assert render({"changed": True, "objects": [obj]}) == [
        "environment/prod: update",
        "  note: no AWS resource would change; the spec would (domain)",
        "  - load-balancer",
        "      x: 1 -> (none)",
        "1 object(s) would change, 0 unchanged.",
    ]


def test_diff_of_new_objects_exits_1_and_shows_them_created(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / "env.yml", ENV)
    r = cf("diff", "-f", "env.yml")
    assert r.code == 1, str(r)
    assert r.out.splitlines() == [
        "environment/demo: create",
        "  + environment",
        "      network: aws",
        "      orchestrator: aws_ecs_fargate",
        "1 object(s) would change, 0 unchanged.",
    ]


def test_diff_of_what_is_stored_exits_0_and_says_nothing_would_change(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / "env.yml", ENV)
    assert cf("apply", "-f", "env.yml").code == 0
    r = cf("diff", "-f", "env.yml")
    assert r.code == 0, str(r)
    assert r.out.splitlines() == ["environment/demo: unchanged", "Nothing would change."]


def test_diff_sends_the_apply_body_and_prints_the_document_with_json(
    cf: CF, server: Server, tmp_path: Path
) -> None:
    write(tmp_path / "env.yml", ENV)
    write(tmp_path / ".cloudfauj.yml", APP)
    assert cf("apply", "-f", "env.yml").code == 0
    r = cf("diff", "-f", "env.yml", "-f", ".cloudfauj.yml", "--env", "demo", "--image", IMAGE, "-o", "json")
    assert r.code == 1, str(r)
    doc = r.json()
    assert doc["changed"] is True
    assert [(o["kind"], o["action"]) for o in doc["objects"]] == [
        ("Environment", "unchanged"),
        ("Application", "create"),
    ]
    ((_, call),) = [c for c in server.service.calls if c[0] == "diff"]
    assert (call["env"], call["image"]) == ("demo", IMAGE)
    assert [s.name for s in call["sources"]] == ["env.yml", ".cloudfauj.yml"]
    assert cf("diff", "-f", "env.yml", "-o", "yaml").out.startswith("changed: false\n")


def test_apply_dry_run_prints_the_diff_exits_0_and_applies_nothing(
    cf: CF, server: Server, tmp_path: Path
) -> None:
    write(tmp_path / "env.yml", ENV)
    r = cf("apply", "-f", "env.yml", "--dry-run")
    assert r.code == 0, str(r)
    assert "environment/demo: create" in r.out and "1 object(s) would change" in r.out
    assert server.recorder.paths("POST") == ["/v1/diff"]
    assert server.service.objects == {} and server.service.records == {}


def test_invalid_input_exits_2_for_diff_and_dry_run(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / "bad.yml", "name: [demo\nnetwork: aws\n")
    for args in (["diff"], ["apply", "--dry-run"]):
        r = cf(*args, "-f", "bad.yml")
        assert r.code == 2, str(r)
        assert "Error: bad.yml, line " in r.err and r.out == "", str(r)
    assert cf("diff", "-f", "nowhere.yml").code == 2


def test_diff_exits_3_when_the_server_is_unreachable(cf: CF, tmp_path: Path) -> None:
    write(tmp_path / "env.yml", ENV)
    r = cf("diff", "-f", "env.yml", "--server", f"http://127.0.0.1:{free_port()}")
    assert r.code == 3 and "Cannot reach the Cloudfauj server" in r.err, str(r)
