"""Pure helpers of the daily batch: which day a run processes, and where that day's files live.

Kept free of Airflow, pandas and database imports so the DAG file, the library and the unit tests
share one definition of "day D".
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

SOURCES = ("avazu", "archive")
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAY_MS = 86_400_000


def parse_day(value: str | date) -> date:
    """``YYYY-MM-DD`` -> date; anything else raises ValueError naming the value (a typo fails early)."""
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not _DAY_RE.match(text):
        raise ValueError(f"day must be YYYY-MM-DD, got {value!r}")
    return date.fromisoformat(text)


def resolve_day(param_day: str | None, logical_date: datetime | None, run_after: datetime | None) -> date:
    """The day a run processes: the ``day`` param when given, else the day before the run's date.

    A scheduled run fires at 00:00 UTC of D+1 with logical date D+1, so "the day before" is D. A
    manual REST run may have no logical date (Airflow 3), then its run_after plays that role.
    """
    if param_day:
        return parse_day(param_day)
    moment = logical_date or run_after
    if moment is None:
        raise ValueError("no day param and no logical date / run_after to derive the day from")
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date() - timedelta(days=1)


def avazu_hours(day: date) -> tuple[str, str]:
    """First and last Avazu hour (``YYMMDDHH``, inclusive) of a UTC day."""
    prefix = day.strftime("%y%m%d")
    return f"{prefix}00", f"{prefix}23"


def day_bounds_ms(day: date) -> tuple[int, int]:
    """``[start, end)`` of the UTC day in epoch milliseconds."""
    start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000
    return start, start + DAY_MS


def parquet_dir(data_dir: Path, day: date) -> Path:
    """``<DATA_DIR>/processed/parquet/dt=YYYY-MM-DD``: the validated input of the day's load."""
    return data_dir / "processed" / "parquet" / f"dt={day.isoformat()}"


def partition_name(day: date) -> str:
    """Name of the day's partition of analytics.ad_events (unqualified)."""
    return f"ad_events_p{day.strftime('%Y%m%d')}"
