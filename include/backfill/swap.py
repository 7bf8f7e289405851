"""Replacing a range's results with a backfill's: PostgreSQL, then the Redis cache, then the archive.

Each step is idempotent and ends in the complete new state, so a backfill killed anywhere and run
again converges to the same result:

- PostgreSQL: one transaction deletes every window of the range from the live table and inserts the
  backfill's staged windows. Windows that no longer exist in the new input disappear with the
  delete; readers see the old range or the new one, never a mix.
- Redis: the range's cache keys are deleted, then the new rows (read back from PostgreSQL) written.
- Archive: each hour's new directory, complete with its ``_SUCCESS``, replaces the old one by
  rename (include/archive.py): the daily ETL sees the old hour, no hour (it waits), or the new hour.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from include import archive
from include.ingest.event_time import HOUR_MS
from include.metrics_contract import ALL_DIMENSION, DIMENSIONS, WINDOW_COLUMNS, WINDOW_SIZES_S

_COLUMNS = ", ".join(WINDOW_COLUMNS)


def _ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def replace_windows(
    conn: Any, *, table: str, staging_table: str, backfill_id: str, start_ms: int, end_ms: int
) -> tuple[int, int]:
    """In one transaction: the range's windows in ``table`` become the staged ones of ``backfill_id``.

    ``conn`` is a psycopg 3 connection; returns ``(windows deleted, windows written)``.
    """
    start, end = _ts(start_ms), _ts(end_ms)
    with conn.transaction():
        deleted = conn.execute(
            f"DELETE FROM {table} WHERE window_start >= %s AND window_start < %s", (start, end)
        ).rowcount
        written = conn.execute(
            f"INSERT INTO {table} ({_COLUMNS}) SELECT {_COLUMNS} FROM {staging_table} "
            "WHERE backfill_id = %s AND window_start >= %s AND window_start < %s",
            (backfill_id, start, end),
        ).rowcount
        conn.execute(f"DELETE FROM {staging_table} WHERE backfill_id = %s", (backfill_id,))
    return deleted, written


def range_rows(conn: Any, table: str, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """The range's window rows of ``table`` as dicts (the shape redis_cache.write takes)."""
    cursor = conn.execute(
        f"SELECT {_COLUMNS} FROM {table} WHERE window_start >= %s AND window_start < %s",
        (_ts(start_ms), _ts(end_ms)),
    )
    return [dict(zip(WINDOW_COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def replace_cache(
    client: Any, *, prefix: str, ttl_ms: int, rows: list[dict[str, Any]], start_ms: int, end_ms: int
) -> int:
    """Drop every cached window of the range, then cache ``rows``; returns how many rows were cached."""
    from include.flink_jobs.ad_window_metrics import redis_cache

    dimensions = [ALL_DIMENSION, *DIMENSIONS]
    pipe = client.pipeline(transaction=True)
    for size in WINDOW_SIZES_S:
        keys = [
            redis_cache.window_key(prefix, size, start, dimension)
            for start in range(start_ms, end_ms, size * 1000)
            for dimension in dimensions
        ]
        pipe.delete(*keys)
        pipe.zremrangebyscore(redis_cache.index_key(prefix, size), start_ms, end_ms - 1)
    pipe.execute()
    # Windows of a past range may be older than the TTL allows the live writer to keep; cached for
    # the TTL from now, as any write, and trimmed from the index by the next live write.
    return redis_cache.write(client, rows, prefix, ttl_ms)


def hours_of(start_ms: int, end_ms: int) -> list[tuple[date, int]]:
    """``(day, hour)`` of every UTC hour in ``[start_ms, end_ms)``."""
    return [(_ts(ms).date(), _ts(ms).hour) for ms in range(start_ms, end_ms, HOUR_MS)]


def swap_archive(root: Path, staged: Path, start_ms: int, end_ms: int) -> int:
    """Each hour of the range in ``root`` becomes the one written under ``staged``; returns the hours.

    An hour the new input has no event for becomes an empty, complete hour. ``staged`` is removed.
    """
    replaced = staged / "_replaced"
    hours = hours_of(start_ms, end_ms)
    for day, hour in hours:
        new = archive.hour_dir(staged, day, hour)
        new.mkdir(parents=True, exist_ok=True)
        (new / archive.HOUR_COMPLETE_MARKER).touch()
        target = archive.hour_dir(root, day, hour)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            old = archive.hour_dir(replaced, day, hour)
            old.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        os.replace(new, target)
    shutil.rmtree(staged, ignore_errors=True)
    return len(hours)
