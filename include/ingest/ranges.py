"""The hours an Avazu file covers, and the up-front check of a requested hour range.

Used by the replay DAG's ``validate`` task and the CLI so a typo in a range, or a file that cannot be
replayed as a whole (:mod:`include.ingest.preflight`), fails in one line before anything is published.
The hours come from one bounded pass over the file (memoised: the replay reuses it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from include.ingest.event_time import hour_start_ms, normalize_hour
from include.ingest.preflight import FileCheckError, check_file
from include.ingest.preflight import check_range as check_file_range


@dataclass(frozen=True)
class HourSpan:
    first: str
    last: str


def file_hour_span(path: str | os.PathLike[str]) -> HourSpan | None:
    """First and last readable hour of ``path`` (None when no data line has one).

    Raises :class:`~include.ingest.preflight.FileCheckError` (a ValueError) for a file that cannot
    be replayed as a whole.
    """
    facts = check_file(path)
    if facts.first_hour is None or facts.last_hour is None:
        return None
    return HourSpan(facts.first_hour, facts.last_hour)


def check_range(path: str | os.PathLike[str], hour_from: str | None, hour_to: str | None) -> HourSpan:
    """Raise ValueError (one line) unless the file is replayable and both bounds are valid hours
    within the file's hours.

    Returns the file's span. Missing bounds default to the file's first/last hour.
    """
    file = Path(path)
    for name, value in (("from_hour", hour_from), ("to_hour", hour_to)):
        try:
            normalize_hour(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    if hour_from and hour_to and hour_from > hour_to:
        raise ValueError(f"bad range: from_hour {hour_from} is after to_hour {hour_to}")
    facts = check_file(file)
    if facts.first_hour is None or facts.last_hour is None:
        raise FileCheckError(f"{file} has no data rows with a readable hour")
    check_file_range(facts, hour_from, hour_to)
    return HourSpan(facts.first_hour, facts.last_hour)


def late_replay_warning(first_hour: str, last_hour: str, watermark_ms: int | None) -> str | None:
    """A warning when hours ``first_hour..last_hour`` (YYMMDDHH) reach back behind the streaming
    job's watermark: Flink dead-letters such events as ``late_event`` instead of counting them.
    """
    if watermark_ms is None:
        return None
    start, end = hour_start_ms(first_hour), hour_start_ms(last_hour) + 3_600_000
    if watermark_ms < start:
        return None
    mark = datetime.fromtimestamp(watermark_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    share = "every event" if watermark_ms >= end - 1 else "the events up to it"
    return (
        f"the streaming job's watermark is at {mark}: of hours {first_hour}..{last_hour}, {share} will "
        "reach the DLQ as late_event, not the real-time windows. For those hours use the daily ETL "
        "(batch) or replay with pace=live; make demo picks a free hour by itself."
    )
