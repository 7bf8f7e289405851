"""Partitions follow event time: replayed past days get their own partitions, DEFAULT stays empty,
the maintenance DAG rescues stray rows and retention counts back from the newest data."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from window_metrics_support import wait_for

from include.db import partitions
from include.flink_jobs.ad_window_metrics import oracle
from include.flink_jobs.ad_window_metrics.table import create_copy, read_rows
from include.ingest.generator import generate

pytestmark = pytest.mark.integration

DAYS = 10


def _partitions_of(conn: Any, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
        (table,),
    ).fetchall()
    return {r[0] for r in rows}


def _first_free_day(cfg: dict[str, str]) -> date:
    """The first whole UTC day the deployed job has not reached (so its events are on time)."""
    from include.demo import next_free_hour

    hour = next_free_hour(cfg, datetime(2014, 10, 21, tzinfo=UTC))
    return hour.date() if hour.hour == 0 else hour.date() + timedelta(days=1)


def test_ten_replayed_days_get_partitions_and_leave_default_empty(
    bootstrapped: Any, airflow: Any, cfg: dict[str, str], pg_owner: Any
) -> None:
    first = _first_free_day(cfg)
    assert (datetime.now(UTC).date() - first).days > 30  # far from today: wall-clock days would not do
    days = [first + timedelta(days=n) for n in range(DAYS)]
    names = {f"ad_window_metrics_p{d:%Y%m%d}" for d in days}
    # The maintenance DAG may already have made the days next to the watermark; the replay the rest.
    missing = names - _partitions_of(pg_owner, partitions.WINDOW_TABLE)
    assert len(missing) >= DAYS - 3
    # Under DATA_DIR/raw: the DAG's file param only reads files under the input roots.
    path = Path(cfg["DATA_DIR"]) / "raw" / f"test_ten_days_{uuid.uuid4().hex[:8]}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    generate(path, 24 * DAYS * 6, first.strftime("%y%m%d") + "00", 24 * DAYS, seed=3, progress=False)
    try:
        expected = oracle.compute_file(path)
        run_id, state = airflow.run_and_wait("dag_avazu_replay", {"file": str(path)}, timeout=600)
    finally:
        path.unlink()
    assert state == "success", airflow.task_instances("dag_avazu_replay", run_id)
    assert airflow.xcom("dag_avazu_replay", run_id, "ensure_partitions") == len(missing)
    assert names <= _partitions_of(pg_owner, partitions.WINDOW_TABLE)

    lo, hi = min(k[1] for k in expected), max(k[1] for k in expected)

    def landed() -> bool:
        rows = read_rows(pg_owner, where="window_start BETWEEN %s AND %s", params=(lo, hi))
        return rows == expected

    wait_for(landed, 300, "the ten days' windows equal to the oracle", interval=3)
    assert [p.rows for p in partitions.default_partitions(pg_owner)] == [0]


def test_maintenance_moves_stray_rows_out_of_default(bootstrapped: Any, airflow: Any, pg_owner: Any) -> None:
    stray = date(1999, 1, 1)
    part = f"realtime.ad_window_metrics_p{stray:%Y%m%d}"
    pg_owner.execute(f"DROP TABLE IF EXISTS {part}")
    pg_owner.execute(
        "INSERT INTO realtime.ad_window_metrics (window_size_s, window_start, dimension, dimension_value, "
        "impressions, clicks, conversions, cost, revenue, window_end) "
        "VALUES (60, %s, 'all', '', 1, 0, 0, 0.1, 0, %s)",
        (datetime(1999, 1, 1, 12, tzinfo=UTC), datetime(1999, 1, 1, 12, 1, tzinfo=UTC)),
    )
    try:
        assert [p.rows for p in partitions.default_partitions(pg_owner)] == [1]
        run_id, state = airflow.run_and_wait("dag_partition_maintenance", timeout=300)
        assert state == "success", airflow.task_instances("dag_partition_maintenance", run_id)
        assert airflow.xcom("dag_partition_maintenance", run_id, "ensure_partitions")["rescued_days"] == 1
        assert pg_owner.execute(f"SELECT count(*) FROM {part}").fetchone()[0] == 1
        assert [p.rows for p in partitions.default_partitions(pg_owner)] == [0]
    finally:
        pg_owner.execute(f"DROP TABLE IF EXISTS {part}")
        pg_owner.execute("DELETE FROM realtime.ad_window_metrics_default WHERE window_start < '2000-01-01'")


def test_retention_counts_back_from_the_newest_data_day(bootstrapped: Any, pg_owner: Any) -> None:
    table = f"realtime.retention_test_{uuid.uuid4().hex[:8]}"
    create_copy(pg_owner, table)
    try:
        d0 = date(2014, 10, 21)
        assert partitions.ensure_days(pg_owner, d0, d0 + timedelta(days=3), table) == 4
        pg_owner.execute(
            f"INSERT INTO {table} (window_size_s, window_start, dimension, dimension_value, impressions, "
            "clicks, conversions, cost, revenue, window_end) VALUES (60, %s, 'all', '', 1, 0, 0, 0.1, 0, %s)",
            (datetime(2014, 10, 23, tzinfo=UTC), datetime(2014, 10, 23, 0, 1, tzinfo=UTC)),
        )
        name = table.split(".")[1]
        assert partitions.apply_retention(pg_owner, 0, table) == []  # 0 keeps everything
        # Newest data day 10-23 (10-24 exists but is empty): keeping 2 days keeps 10-22 and 10-23.
        assert partitions.apply_retention(pg_owner, 2, table) == [f"realtime.{name}_p20141021"]
        assert _partitions_of(pg_owner, table) == {
            f"{name}_default",
            f"{name}_p20141022",
            f"{name}_p20141023",
            f"{name}_p20141024",
        }
    finally:
        pg_owner.execute(f"DROP TABLE IF EXISTS {table}")
