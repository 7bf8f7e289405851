"""Prometheus configuration and alert rules, checked by Prometheus's own promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RULES = sorted((REPO / "local_stack/monitoring/rules").glob("*.yml"))
RULE_TESTS = sorted((REPO / "local_stack/monitoring/tests").glob("*_test.yml"))


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("rules", [pytest.param(p, id=p.name) for p in RULES])
def test_rules_are_valid(rules):
    result = _promtool("check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_file_has_unit_tests():
    tested = {
        line.split("/")[-1].strip()
        for t in RULE_TESTS
        for line in t.read_text().splitlines()
        if "../rules/" in line
    }
    assert {p.name for p in RULES} <= tested


@pytest.mark.parametrize("unit", [pytest.param(p, id=p.name) for p in RULE_TESTS])
def test_rule_unit_tests_pass(unit):
    result = _promtool("test", "rules", str(unit))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rendered_prometheus_config_is_valid(cfg):
    rendered = Path(cfg["DATA_DIR"]) / "run/conf/prometheus/prometheus.yml"
    result = _promtool("check", "config", "--syntax-only", str(rendered))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rendered_alertmanager_config_is_valid(cfg):
    rendered = Path(cfg["DATA_DIR"]) / "run/conf/alertmanager/alertmanager.yml"
    result = subprocess.run(
        ["amtool", "check-config", str(rendered)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _rules() -> list[dict]:
    import yaml

    return [
        rule
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def test_every_alert_has_a_firing_unit_test():
    """Each alert appears in a promtool test that expects it to fire (exp_alerts with labels)."""
    import yaml

    fired = {
        case["alertname"]
        for t in RULE_TESTS
        for test in yaml.safe_load(t.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    alerts = {r["alert"] for r in _rules() if "alert" in r}
    assert alerts <= fired, f"alerts without a firing unit test: {sorted(alerts - fired)}"


def test_every_recording_rule_is_tested_or_used_by_a_tested_alert():
    import yaml

    tested_text = "\n".join(t.read_text() for t in RULE_TESTS)
    rules = _rules()
    fired_alert_exprs = " ".join(r["expr"] for r in rules if "alert" in r and r["alert"] in tested_text)
    for record in (r["record"] for r in rules if "record" in r):
        assert record in tested_text or record in fired_alert_exprs, f"recording rule {record} is untested"
    assert yaml  # the rule files are YAML (parsed above)


def test_issue_alerts_exist_with_their_thresholds():
    """The alerts the platform promises (docs/dashboards.md): names and thresholds."""
    alerts = {r["alert"]: r for r in _rules() if "alert" in r}
    assert "< 1000" in alerts["IngestRateLow"]["expr"]
    assert "> 5" in alerts["EndToEndLatencyHigh"]["expr"]
    assert "> 0.01" in alerts["ErrorRateHigh"]["expr"]
    assert alerts["ConsumerLagGrowing"]["for"] == "5m" and "deriv(" in alerts["ConsumerLagGrowing"]["expr"]
    assert {"FlinkCheckpointFailing", "FlinkCheckpointStale", "FlinkJobNotRunning"} <= set(alerts)


def test_dashboards_query_only_recorded_or_raw_series_that_rules_define():
    """The Streamlit Pipeline page and Grafana use adevents:* series: each one must be recorded."""
    import json
    import re

    recorded = {r["record"] for r in _rules() if "record" in r}
    texts = [(REPO / "dashboard/queries.py").read_text()]
    texts += [p.read_text() for p in (REPO / "local_stack/docker/grafana/dashboards").glob("*.json")]
    used = {m.rstrip(":") for text in texts for m in re.findall(r"adevents:[a-z0-9_:]+", text)}
    assert used, "no recorded series used"
    assert used <= recorded, f"queried but never recorded: {sorted(used - recorded)}"
    assert json  # dashboards are JSON
