"""The dashboard components of the local stack: supervised, healthy for `make status`, scraped."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "local_stack"))

import health  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", ["streamlit", "pipeline-exporter"])
def test_component_is_healthy(cfg, name):
    result = health.probe(health.BY_NAME[name], cfg)
    assert result.ok, result.detail


def test_prometheus_scrapes_the_pipeline_exporter_and_loads_the_rules(cfg):
    base = cfg["PROMETHEUS_URL"]
    targets = requests.get(f"{base}/api/v1/targets?state=active", timeout=5).json()["data"]["activeTargets"]
    assert any(t["labels"]["job"] == "pipeline" and t["health"] == "up" for t in targets)
    groups = requests.get(f"{base}/api/v1/rules", timeout=5).json()["data"]["groups"]
    rules = {r["name"]: r for g in groups for r in g["rules"]}
    for alert in ("IngestRateLow", "EndToEndLatencyHigh", "ErrorRateHigh", "ConsumerLagGrowing",
                  "FlinkCheckpointFailing", "FlinkCheckpointStale", "FlinkJobNotRunning"):  # fmt: skip
        assert alert in rules, f"Prometheus has not loaded {alert}: curl -X POST {base}/-/reload"
    broken = {name: r.get("lastError") for name, r in rules.items() if r.get("health") == "err"}
    assert not broken, broken
