"""The CI recipes in manifests/ci/ are valid YAML, take the deployer token from a secret, and run
commands and flags this CLI has (so a typo in a recipe fails here, not in a user's pipeline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from typer.testing import CliRunner

from cloudfauj.cli.main import app

CI = Path(__file__).resolve().parents[2] / "manifests" / "ci"


def commands(steps: list[Any]) -> list[str]:
    return [line for line in steps if isinstance(line, str) and line.startswith("cloudfauj ")]


def accepted(command: str) -> None:
    """The command's flags are known: `--help` after them parses them without running anything."""
    words = command.split("||")[0].replace('"$IMAGE"', "IMAGE").split()[1:]
    r = CliRunner().invoke(app, [*words, "--help"])
    assert r.exit_code == 0, f"{command}: {r.output}"


def test_the_github_actions_workflow_deploys_with_a_deployer_token_from_a_secret() -> None:
    flow = YAML(typ="safe").load((CI / "github-actions.yml").read_text())
    job = flow["jobs"]["deploy"]
    assert job["env"]["CLOUDFAUJ_TOKEN"] == "${{ secrets.CLOUDFAUJ_TOKEN }}"
    runs = commands([step.get("run") for step in job["steps"]])
    assert [c.split()[1] for c in runs] == ["diff", "deploy"]
    for command in runs:
        accepted(command)


def test_the_gitlab_pipeline_deploys_with_the_token_from_a_masked_variable() -> None:
    pipeline = YAML(typ="safe").load((CI / "gitlab-ci.yml").read_text())
    runs = commands(pipeline["deploy"]["script"])
    assert [c.split()[1] for c in runs] == ["diff", "deploy"]
    assert "CLOUDFAUJ_TOKEN" in (CI / "gitlab-ci.yml").read_text()
    for command in runs:
        accepted(command)
