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
