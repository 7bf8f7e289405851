"""The full run (bench/fullrun.py) end to end at CI size, on the real stack.

The same code path as ``make fullrun``: a generated file on the first day the streaming job has
not reached, the replay CLI, the stream drained, one Airflow backfill of dag_daily_etl from the
archive, and every check against the independent DuckDB oracle. One day of 30,000 events, so the
runtime is mostly one daily ETL run through Airflow (a few minutes for a small day on 2 cores,
docs/batch.md "Timings"); measured 7-8 minutes while other test suites loaded the same machine.
Results go to a temporary file, never bench/results.json. Like the full run, it leaves its day
streamed and loaded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from bench import fullrun

pytestmark = pytest.mark.integration

CHECKS = (
    "equal_to_oracle",
    "marts_equal",
    "marts_equal_windows",
    "default_partitions_empty",
    "accounting_ok",
    "etl_succeeded",
)


def test_small_full_run_passes_every_check(bootstrapped: Any, tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"other": {"kept": True}}))
    started = time.monotonic()
    code = fullrun.main(["--rows", "30000", "--days", "1", "--results", str(results)])
    took = time.monotonic() - started

    written = json.loads(results.read_text())
    assert written["other"] == {"kept": True} and "full" not in written  # read-modify-write, small key
    run = written["full_small"]
    failed = {name: run[name] for name in CHECKS if run[name] is not True}
    assert code == 0 and not failed, (
        failed,
        run["windows"],
        run["marts"],
        run["reconcile"],
        run["accounting"],
    )
    assert run["rows"] == 30_000 and len(run["days"]) == 1 and run["hours"] == 24
    assert run["accounting"]["published"] == run["accounting"]["topic_new_records"] == 30_000
    assert run["windows"]["oracle_rows"] == run["windows"]["table_rows"] > 1_000
    assert set(run["stages"]) == {"generate", "oracle", "replay", "stream", "etl", "checks"}
    assert run["stream_events_per_s"] > 0 and run["etl_days"][run["days"][0]]["state"] == "success"
    assert run["peak_memory_gb"] > 1 and "flink-taskmanager" in run["memory_peak_gb_by_component"]
    assert {"kafka", "archive", "postgres", "checkpoints"} <= set(run["bytes_per_event"])
    assert set(run["targets"]) == {"stream_events_per_s", "etl_total_s", "peak_memory_gb"}
    print(f"small full run: {took:.0f} s")


def test_user_mistakes_are_one_line_errors(
    bootstrapped: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results.json"
    cases = (
        (["--file", str(tmp_path / "missing.csv.gz")], "file not found"),
        (["--rows", "10", "--days", "2"], "hours empty"),
        (["--file", str(tmp_path / "x.csv"), "--rows", "5"], "--rows and --days apply to generated input"),
    )
    for args, message in cases:
        assert fullrun.main([*args, "--results", str(results)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert not results.exists()
