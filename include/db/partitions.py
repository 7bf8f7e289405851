"""Daily partitions that follow event time, and the check that nothing lands in DEFAULT.

Airflow-free: the replay DAG and CLI create the days they are about to publish, the maintenance
DAG keeps partitions ahead of the stream's watermark and applies retention, and tests and the full
run check the DEFAULT partitions. Works with any DB-API connection (psycopg 2 or 3) of a login that
may create tables in ``realtime`` (the schema owner).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

WINDOW_TABLE = "realtime.ad_window_metrics"


@dataclass(frozen=True)
class DefaultPartition:
    parent: str
    partition: str
    rows: int


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def day_of_hour(hour: str) -> date:
    """The UTC day of an Avazu hour ``YYMMDDHH``."""
    return datetime.strptime(hour[:6], "%y%m%d").replace(tzinfo=UTC).date()


def day_of_ms(epoch_ms: int) -> date:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).date()


def ensure_days(conn: Any, first: date, last: date, table: str = WINDOW_TABLE) -> int:
    """Creates the missing daily partitions ``[first, last]`` of ``table`` (and moves any of their
    rows out of DEFAULT); returns how many it created. The window of a day's last minutes ends on
    the next day but starts on this one, so the days of the events are enough."""
    with conn.cursor() as cur:
        cur.execute("SELECT realtime.ensure_daily_partitions(%s, %s, %s::regclass)", (first, last, table))
        created = int(cur.fetchone()[0])
    conn.commit()
    return created


def default_partitions(conn: Any) -> list[DefaultPartition]:
    """The DEFAULT partition of each of the pipeline's time-partitioned tables, with its row count."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT parent_table, default_partition, row_count FROM realtime.default_partition_rows()"
        )
        rows = [DefaultPartition(p, d, int(n)) for p, d, n in cur.fetchall()]
    conn.commit()
    return rows


def days_in_default(conn: Any, table: str = WINDOW_TABLE) -> list[date]:
    """The UTC days of the rows sitting in ``table``'s DEFAULT partition (to create them)."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT DISTINCT (window_start AT TIME ZONE 'UTC')::date FROM {table}_default ORDER BY 1"
        )
        days = [r[0] for r in cur.fetchall()]
    conn.commit()
    return days


def apply_retention(conn: Any, keep_days: int, table: str = WINDOW_TABLE) -> list[str]:
    """Drops the daily partitions more than ``keep_days`` before the newest day holding data.

    Measured from the data's newest event-time day, not from today: a replayed 2014 range is kept
    until newer data pushes it out. ``keep_days`` 0 keeps everything.
    """
    if keep_days <= 0:
        return []
    with conn.cursor() as cur:
        cur.execute(f"SELECT (max(window_start) AT TIME ZONE 'UTC')::date FROM {table}")
        newest = cur.fetchone()[0]
        if newest is None:
            conn.commit()
            return []
        cur.execute(
            "SELECT realtime.drop_daily_partitions_before(%s, %s::regclass)",
            (newest - timedelta(days=keep_days - 1), table),
        )
        dropped = [r[0] for r in cur.fetchall()]
    conn.commit()
    return dropped
