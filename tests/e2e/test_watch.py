"""`cloudfauj apply --watch` end to end: one CLI process left running applies each save of the manifest,
reports an invalid save and keeps watching, and ends cleanly on Ctrl-C (SIGINT): exit 0, no traceback.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.gitops import application, environment
from tests.e2e.harness import BIN, Stack, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def deployments(st: Stack) -> list[dict[str, Any]]:
    return list(st.cf_json("get", "deployments", "--app", "web", "--env", "watched"))


def test_a_saved_image_change_is_deployed_without_running_the_cli_again(tmp_path: Path) -> None:
    st = Stack(tmp_path).start()
    manifest = tmp_path / "app.yml"
    v1, v2 = st.push("web", "v1"), st.push("web", "v2")
    manifest.write_text(environment("watched") + "---\n" + application("web", "watched", v1))
    out, err = tmp_path / "watch.out", tmp_path / "watch.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [BIN, "apply", "--watch", "-f", str(manifest)],
            cwd=tmp_path,
            env=st.env(),
            stdout=stdout,
            stderr=stderr,
        )
    try:
        first = wait_for(
            lambda: [d for d in deployments(st) if d["status"] == "succeeded"], what="v1 deployed"
        )
        assert first[0]["image"] == v1
        wait_for(lambda: "Watching" in err.read_text(), timeout=30, what="the watch to start")

        manifest.write_text(
            "apiVersion: cloudfauj.dev/v1\nkind: Application\nmetadata: {name: web}\ncolour: red\n"
        )
        wait_for(lambda: "Error: " in err.read_text(), timeout=30, what="the invalid save to be reported")
        assert proc.poll() is None, err.read_text()
        assert len(deployments(st)) == 1  # nothing of the invalid file was applied

        manifest.write_text(environment("watched") + "---\n" + application("web", "watched", v2))
        latest = wait_for(
            lambda: [d for d in deployments(st) if d["image"] == v2 and d["status"] == "succeeded"],
            what="v2 deployed by the watching CLI",
        )
        assert latest[0]["cause"] == "apply"
        (svc,) = st.services("watched")
        assert st.image_of(svc) == v2
        wait_for(lambda: err.read_text().count("Watching") >= 3, timeout=30, what="watching again")
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        st.stop()
    text = out.read_text() + err.read_text()
    assert code == 0, text
    assert "Traceback" not in text, text
    assert "succeeded" in out.read_text(), text  # each resulting deployment is printed
    assert "Stopped watching." in err.read_text(), text
