"""The replay's input checks: fail fast, in one line, before any service is contacted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from include.ingest.event_time import HourBatch, normalize_hour
from include.ingest.preflight import FileCheckError, FileFacts, check_file, check_range
from include.ingest.records import AvazuFormatError
from include.ingest.replay_errors import InputError


def check_input(path: Path, hour_from: str | None, hour_to: str | None) -> FileFacts:
    """Malformed hour bounds and every whole-file problem (:mod:`include.ingest.preflight`) raise
    :class:`InputError`, before anything is published."""
    try:
        low, high = normalize_hour(hour_from), normalize_hour(hour_to)
    except ValueError as exc:
        raise InputError(f"bad hour range: {exc}") from None
    if low is not None and high is not None and low > high:
        raise InputError(f"bad hour range: from {hour_from} is after to {hour_to}")
    try:
        facts = check_file(path)
    except FileCheckError as exc:
        raise InputError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None
    try:
        check_range(facts, hour_from, hour_to)
    except FileCheckError:
        raise InputError(_empty_range_message(path, hour_from, hour_to)) from None
    return facts


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
    facts = check_file(path)
    hours = (
        f"the file has hours {facts.first_hour}..{facts.last_hour}"
        if facts.first_hour
        else "no row has a readable hour"
    )
    return f"no rows in hours {hour_from or 'first'}..{hour_to or 'last'} of {path} ({hours})"
