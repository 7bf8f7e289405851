"""The replay's input checks: fail fast, in one line, before any service is contacted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from include.ingest.avazu_reader import iter_lines, open_avazu
from include.ingest.event_time import HourBatch, normalize_hour
from include.ingest.records import AvazuFormatError
from include.ingest.replay_errors import InputError


def check_input(path: Path, hour_from: str | None, hour_to: str | None) -> None:
    """A missing/unreadable file, a bad header or malformed hour bounds raise :class:`InputError`."""
    if not path.exists():
        raise InputError(f"file not found: {path}")
    if not path.is_file():
        raise InputError(f"not a file: {path}")
    try:
        with open_avazu(path) as stream:
            next(iter_lines(stream), None)
    except AvazuFormatError as exc:
        raise InputError(f"{path}: {exc}") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    try:
        low, high = normalize_hour(hour_from), normalize_hour(hour_to)
    except ValueError as exc:
        raise InputError(f"bad hour range: {exc}") from None
    if low is not None and high is not None and low > high:
        raise InputError(f"bad hour range: from {hour_from} is after to {hour_to}")


def first_batch(
    batches: Iterator[HourBatch], path: Path, hour_from: str | None, hour_to: str | None
) -> HourBatch:
    """The first hour of the range; an empty range is an :class:`InputError` naming the file's hours."""
    try:
        first = next(batches, None)
    except AvazuFormatError as exc:
        raise InputError(f"{path}: {exc}") from None
    if first is None:
        raise InputError(_empty_range_message(path, hour_from, hour_to))
    return first


def _empty_range_message(path: Path, hour_from: str | None, hour_to: str | None) -> str:
    if hour_from is None and hour_to is None:
        return f"{path} has no data rows"
    from include.ingest.ranges import file_hour_span

    span = file_hour_span(path)
    hours = f"the file has hours {span.first}..{span.last}" if span else "no row has a readable hour"
    return f"no rows in hours {hour_from or 'first'}..{hour_to or 'last'} of {path} ({hours})"
