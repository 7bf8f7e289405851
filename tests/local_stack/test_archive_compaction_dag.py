"""dag_archive_compaction through Airflow, on the archive the stack's job writes to: a day archived
as at live pace (many files an hour) becomes one file per complete hour, an open hour is left as
it is, and the daily extract reads the same events as before."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from airflow_logs_support import task_log

from bench.batch import write_archive
from include import archive
from include.batch.extract import extract_day
from include.ingest.generator import main as generate

pytestmark = pytest.mark.integration

DAY = date(2012, 6, 2)  # a day no stream, test or benchmark archives
KEY = [("event_time", "ascending"), ("event_id", "ascending")]


def test_the_dag_compacts_complete_hours_and_the_day_reads_the_same(
    bootstrapped: Any, airflow: Any, cfg: dict[str, str], tmp_path: Path
) -> None:
    root = archive.root_path(cfg["FLINK_ARCHIVE_URI"])
    src = tmp_path / "day.csv"
    assert generate(["--rows", "4800", "--start-hour", "12060200", "--hours", "24", "--seed", "12",
                     "--out", str(src), "--no-progress"]) == 0  # fmt: skip
    priced = Path(extract_day(DAY, "avazu", tmp_path / "priced", src).parquet_path)
    events = pq.read_table(priced).sort_by(KEY)
    shutil.rmtree(archive.day_dir(root, DAY), ignore_errors=True)
    try:
        write_archive(priced, root, DAY, files_per_hour=20)
        (archive.hour_dir(root, DAY, 23) / archive.HOUR_COMPLETE_MARKER).unlink()  # still open

        def files_per_hour() -> dict[int, int]:
            return {h: sum(archive.is_data_file(p) for p in archive.hour_dir(root, DAY, h).iterdir())
                    for h in range(24)}  # fmt: skip

        before = files_per_hour()
        assert min(before.values()) > 10
        run_id, state = airflow.run_and_wait("dag_archive_compaction", timeout=300)
        assert state == "success", airflow.task_instances("dag_archive_compaction", run_id)

        assert files_per_hour() == {**dict.fromkeys(range(23), 1), 23: before[23]}
        done = airflow.xcom("dag_archive_compaction", run_id, "compact")
        assert done["hours"] >= 23 and done["files"] >= sum(
            before[h] for h in range(23)
        )  # and the stack's own
        assert f"{DAY} hour 05: {before[5]} files -> 1" in task_log(
            cfg, "dag_archive_compaction", run_id, "compact"
        )
        read = extract_day(DAY, "archive", tmp_path / "extract", archive_root=root)
        assert pq.read_table(read.parquet_path).sort_by(KEY).equals(events)
        assert (read.duplicates_dropped, read.incomplete_hours) == (0, [23])
    finally:
        shutil.rmtree(archive.day_dir(root, DAY), ignore_errors=True)
