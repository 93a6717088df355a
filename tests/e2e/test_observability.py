"""What operators watch: `/metrics` in Prometheus's text format with the reactor's series beside the AWS
call counter, and `--log-format json` server logs, one JSON object a line.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.gitops import application, environment
from tests.e2e.harness import Stack

pytestmark = pytest.mark.e2e


def test_metrics_parse_and_hold_the_reactor_series_and_the_logs_are_json(tmp_path: Path) -> None:
    st = Stack(tmp_path, server_args=("--log-format", "json")).start()
    try:
        image = st.push("web", "v1")
        (tmp_path / "all.yml").write_text(environment("obs") + "---\n" + application("web", "obs", image))
        r = st.cf("apply", "-f", "all.yml")
        assert r.code == 0, str(r)

        text = httpx.get(f"{st.url}/metrics").text  # open without a token, like the probes
        families = {f.name: f for f in text_string_to_metric_families(text)}
        durations = families["cloudfauj_reconcile_duration_seconds"]
        assert durations.type == "histogram"
        kinds = {s.labels["kind"] for s in durations.samples if s.name.endswith("_count") and s.value > 0}
        assert {"Environment", "Application"} <= kinds, kinds
        assert families["cloudfauj_queue_depth"].type == "gauge"
        deployments = {
            s.labels["status"]: s.value
            for s in families["cloudfauj_deployments"].samples
            if s.name == "cloudfauj_deployments_total"
        }
        assert deployments["succeeded"] >= 1 and deployments["failed"] == 0, deployments
        calls = [s for s in families["cloudfauj_aws_calls"].samples if s.name == "cloudfauj_aws_calls_total"]
        assert {"service", "operation", "outcome"} <= set(calls[0].labels), calls[0]
    finally:
        st.stop()
    lines = [line for line in st.log("server").splitlines() if line.strip()]
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    assert logged and all({"time", "level", "logger", "message"} <= set(e) for e in logged), lines[:5]
    assert any("serving on" in e["message"] for e in logged), lines[:5]
    assert not [line for line in lines if not line.startswith("{")], lines
