"""The models' dbt unit tests (``unit_tests:`` in their yml) run standalone and inside each model's build.

``dag_daily_etl`` runs one ``dbt build`` (DBT_TASK_GRAPH=build), and with DBT_TASK_GRAPH=per_model
Cosmos builds each model with ``dbt build --select fqn:<the model's fqn>``: either way dbt runs a
model's unit tests before the model, so a failing one stops it before anything is written. Both
tests run the dbt CLI against the real database (unit tests read their inputs' column types from
it) and write nothing to it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from include import config
from include.batch.dbt_manifest import MANIFEST_PATH, PROJECT_DIR

pytestmark = pytest.mark.integration


def _dbt(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DBT_PROFILES_DIR": str(PROJECT_DIR), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [config.get("DBT_EXECUTABLE"), *args, "--target-path", str(tmp_path), "--log-path", str(tmp_path)]
    return subprocess.run(cmd, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False)


def test_unit_tests_pass_with_dbt_test(tmp_path: Path) -> None:
    done = _dbt(tmp_path, "test", "--select", "test_type:unit")
    assert done.returncode == 0, done.stdout[-4000:]
    results = json.loads((tmp_path / "run_results.json").read_text())["results"]
    unit_tests = json.loads(MANIFEST_PATH.read_text())["unit_tests"]
    assert {r["unique_id"] for r in results} == set(unit_tests)
    assert {r["status"] for r in results} == {"pass"}


def test_a_models_build_selects_its_unit_tests(tmp_path: Path) -> None:
    manifest = json.loads(MANIFEST_PATH.read_text())
    model = manifest["nodes"]["model.ad_events.fct_daily_metrics"]
    done = _dbt(tmp_path, "ls", "--select", f"fqn:{'.'.join(model['fqn'])}", "--output", "json",
                "--output-keys", "unique_id")  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:]
    selected = {json.loads(line)["unique_id"] for line in done.stdout.splitlines() if line.startswith("{")}
    own = {k for k, t in manifest["unit_tests"].items() if t["model"] == "fct_daily_metrics"}
    assert own and own <= selected, selected
