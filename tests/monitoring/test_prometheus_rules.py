"""Prometheus configuration and alert rules, checked by Prometheus's own promtool.

The rules (local_stack/monitoring/rules/*.yml) are templates: the unit tests run on them rendered
with include/config.py's defaults (the topic and job names the tests use), laid out as the tests
reference them (../rules/ from a copy of local_stack/monitoring/tests/).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from include import config

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "local_stack/monitoring"
RULE_SOURCES = sorted((MONITORING / "rules").glob("*.yml"))
RULE_TESTS = sorted((MONITORING / "tests").glob("*_test.yml"))
COMPOSE_PROMETHEUS = REPO / "local_stack/docker/prometheus"

# The renderer of local_stack/conf/ and local_stack/monitoring/ (a script, not a package).
sys.path.insert(0, str(REPO / "local_stack" / "bin"))
import render_configs  # noqa: E402

DEFAULTS = render_configs.local_values(config.resolve({}))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """rules/ (rendered with the defaults) and tests/ (copied), side by side."""
    root = tmp_path_factory.mktemp("monitoring")
    (root / "rules").mkdir()
    for src in RULE_SOURCES:
        (root / "rules" / src.name).write_text(render_configs.substitute(src, DEFAULTS))
    shutil.copytree(MONITORING / "tests", root / "tests")
    return root


def _promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *map(str, args)], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("name", [p.name for p in RULE_SOURCES])
def test_rendered_rules_are_valid(rendered: Path, name: str) -> None:
    result = _promtool("check", "rules", rendered / "rules" / name)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", sorted(COMPOSE_PROMETHEUS.glob("*.rules.yml")), ids=lambda p: p.name)
def test_compose_rules_are_valid(path: Path) -> None:
    result = _promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_file_has_unit_tests() -> None:
    tested = {
        line.split("/")[-1].strip()
        for t in RULE_TESTS
        for line in t.read_text().splitlines()
        if "../rules/" in line
    }
    assert {p.name for p in RULE_SOURCES} <= tested


@pytest.mark.parametrize("name", [p.name for p in RULE_TESTS])
def test_rule_unit_tests_pass(rendered: Path, name: str) -> None:
    result = _promtool("test", "rules", rendered / "tests" / name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_take_the_names_from_the_settings() -> None:
    """No topic or job name written into a rule: they come from include/config.py."""
    for src in RULE_SOURCES:
        text = src.read_text()
        for name in ("TOPIC_RAW", "TOPIC_DLQ", "FLINK_JOB_NAME"):
            value = DEFAULTS[name]
            assert not re.search(
                rf"(?<![\w$]){re.escape(value)}(?!\w)", text
            ), f"{src.name} names {value}: use ${{{name}}}"


def test_rendered_prometheus_config_is_valid(cfg: dict[str, str]) -> None:
    rendered = Path(cfg["DATA_DIR"]) / "run/conf/prometheus/prometheus.yml"
    for path in (rendered, COMPOSE_PROMETHEUS / "prometheus.yml"):
        result = _promtool("check", "config", "--syntax-only", path)
        assert result.returncode == 0, result.stdout + result.stderr


def test_rendered_alertmanager_config_is_valid(cfg: dict[str, str]) -> None:
    conf = Path(cfg["DATA_DIR"]) / "run/conf/alertmanager"
    for path in (conf / "alertmanager.yml", REPO / "local_stack/docker/alertmanager/alertmanager.yml"):
        result = subprocess.run(
            ["amtool", "check-config", str(path)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
    # Alertmanager reads the URL file as it is: a trailing newline would break the URL.
    assert (conf / "slack_webhook_url").read_text() == cfg["SLACK_WEBHOOK_URL"]


def _rules() -> list[dict]:
    return [
        rule
        for src in RULE_SOURCES
        for group in yaml.safe_load(render_configs.substitute(src, DEFAULTS))["groups"]
        for rule in group["rules"]
    ]


def test_every_alert_has_a_firing_unit_test() -> None:
    """Each alert appears in a promtool test that expects it to fire (exp_alerts with labels)."""
    fired = {
        case["alertname"]
        for t in RULE_TESTS
        for test in yaml.safe_load(t.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    alerts = {r["alert"] for r in _rules() if "alert" in r}
    assert alerts <= fired, f"alerts without a firing unit test: {sorted(alerts - fired)}"


def test_every_recording_rule_is_tested_or_used_by_a_tested_alert() -> None:
    tested_text = "\n".join(t.read_text() for t in RULE_TESTS)
    rules = _rules()
    fired_alert_exprs = " ".join(r["expr"] for r in rules if "alert" in r and r["alert"] in tested_text)
    for record in (r["record"] for r in rules if "record" in r):
        assert record in tested_text or record in fired_alert_exprs, f"recording rule {record} is untested"


def test_issue_alerts_exist_with_their_thresholds() -> None:
    """The alerts the platform promises (docs/dashboards.md): names and thresholds."""
    alerts = {r["alert"]: r for r in _rules() if "alert" in r}
    assert "< 1000" in alerts["IngestRateLow"]["expr"]
    assert "> 5" in alerts["EndToEndLatencyHigh"]["expr"]
    assert "> 0.01" in alerts["ErrorRateHigh"]["expr"]
    assert alerts["ConsumerLagGrowing"]["for"] == "5m" and "deriv(" in alerts["ConsumerLagGrowing"]["expr"]
    assert {"FlinkCheckpointFailing", "FlinkCheckpointStale", "FlinkJobNotRunning"} <= set(alerts)
    assert f"> {config.resolve({})['FLINK_MAX_CHECKPOINT_AGE_S']}" in alerts["FlinkCheckpointStale"]["expr"]


def test_dashboards_query_only_recorded_or_raw_series_that_rules_define() -> None:
    """The Streamlit Pipeline page and Grafana use adevents:* series: each one must be recorded."""
    recorded = {r["record"] for r in _rules() if "record" in r}
    texts = [(REPO / "dashboard/queries.py").read_text()]
    texts += [json.dumps(json.loads(p.read_text())) for p in (MONITORING / "dashboards").glob("*.json")]
    used = {m.rstrip(":") for text in texts for m in re.findall(r"adevents:[a-z0-9_:]+", text)}
    assert used, "no recorded series used"
    assert used <= recorded, f"queried but never recorded: {sorted(used - recorded)}"
