"""``realtime.ad_window_metrics`` from PostgreSQL's side: read rows back, make private copies.

Shared by ``make demo``, the realtime benchmark and the tests, which all compare the table with
the oracle's :class:`~include.flink_jobs.ad_window_metrics.oracle.WindowRow` values.
"""

from __future__ import annotations

from typing import Any

from include.flink_jobs.ad_window_metrics.oracle import Key, WindowRow
from include.metrics_contract import WINDOW_COLUMNS

TABLE = "realtime.ad_window_metrics"
# The contract's window row, which the oracle's WindowRow mirrors field by field
# (tests/include/test_metrics_contract.py), so each row converts positionally.
COLUMNS = ", ".join(WINDOW_COLUMNS)


def read_rows(
    conn: Any, table: str = TABLE, where: str = "", params: tuple[Any, ...] = ()
) -> dict[Key, WindowRow]:
    """The rows of ``table`` (optionally ``WHERE where``) keyed like the oracle's."""
    query = f"SELECT {COLUMNS} FROM {table}" + (f" WHERE {where}" if where else "")
    rows = (WindowRow(*r) for r in conn.execute(query, params).fetchall())
    return {row.key: row for row in rows}


def create_copy(conn: Any, table: str) -> None:
    """A private table like the real one: same columns, key, daily partitioning and updated_at trigger."""
    name = table.split(".")[-1]
    conn.execute(f"CREATE TABLE {table} (LIKE {TABLE} INCLUDING ALL) PARTITION BY RANGE (window_start)")
    conn.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    conn.execute(
        f"CREATE TRIGGER {name}_touch BEFORE INSERT OR UPDATE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION realtime.touch_updated_at()"
    )
