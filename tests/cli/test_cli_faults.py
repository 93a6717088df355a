"""`--sandbox-faults` and `sandbox serve --faults`: a fault plan reaches the server's settings and the
emulator (both replaced here by recorders), a bad plan exits 2 with what is wrong.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

import cloudfauj.sandbox.faults  # noqa: F401 - loaded before `sandbox_calls` replaces its package
from cloudfauj.sandbox.faults import FaultPlan
from cloudfauj.settings import Settings
from tests.cli.helpers import CF


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    fake = types.ModuleType("cloudfauj.sandbox")
    fake.serve = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cloudfauj.sandbox", fake)
    return calls


def test_the_servers_fault_plan_becomes_a_setting(cf: CF, started: list[Settings]) -> None:
    r = cf("server", "--sandbox", "--sandbox-faults", "throttle=0.3,error=0.05")
    assert r.code == 0, str(r)
    assert started[0].sandbox_faults == "throttle=0.3,error=0.05"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--sandbox", "--sandbox-faults", "throttle=2"], "'throttle' must be a share between 0 and 1"),
        (["--sandbox", "--sandbox-faults", "slow=1"], "is not one of throttle=SHARE"),
        (["--sandbox-faults", "throttle=0.1"], "applies to the embedded emulator (--sandbox)"),
    ],
)
def test_a_bad_server_fault_plan_exits_2(cf: CF, started: list[Settings], args: list[str], says: str) -> None:
    r = cf("server", *args)
    assert r.code == 2 and says in r.err, str(r)
    assert started == []


def test_sandbox_serve_passes_its_fault_plan(cf: CF, served: list[dict[str, Any]]) -> None:
    assert cf("sandbox", "serve", "--port", "4570", "--faults", "throttle=0.3,error=0.05,seed=7").code == 0
    (call,) = served
    assert call["faults"] == FaultPlan(throttle=0.3, error=0.05, after=0.5, seed=7)
    r = cf("sandbox", "serve", "--faults", "error=lots")
    assert r.code == 2 and "'error' must be a number between 0 and 1, not 'lots'" in r.err, str(r)
    assert len(served) == 1
