"""The hours an Avazu file covers, and the up-front check of a requested hour range.

Used by the replay DAG's ``validate`` task and the CLI so a typo in a range, or a file that cannot be
replayed as a whole (:mod:`include.ingest.preflight`), fails in one line before anything is published.
The hours come from one bounded pass over the file (memoised: the replay reuses it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from include.ingest.event_time import normalize_hour
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
