"""The hours an Avazu file covers, and the up-front check of a requested hour range.

Used by the replay DAG's ``validate`` task and the CLI so a typo in a range fails in one line before
anything is published. The first hour comes from the first data line; the last from the file's tail
(a seek for plain files; gzip cannot seek, so it is decompressed once, ~0.4 GB/s).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from include.ingest.avazu_reader import check_header, open_avazu
from include.ingest.event_time import hour_start_ms, normalize_hour

_TAIL = 1 << 16


@dataclass(frozen=True)
class HourSpan:
    first: str
    last: str


def _hour_of(line: bytes) -> str | None:
    parts = line.split(b",", 3)
    if len(parts) == 4 and len(parts[2]) == 8 and parts[2].isdigit():
        return parts[2].decode("ascii")
    return None


def file_hour_span(path: str | os.PathLike[str]) -> HourSpan | None:
    """First and last readable hour of ``path`` (None when no data line has one). Checks the header."""
    with open_avazu(path) as stream:
        check_header(stream.readline())
        first = None
        for line in stream:
            first = _hour_of(line.rstrip(b"\r\n"))
            if first is not None:
                break
        if first is None:
            return None
        tail = b""
        if isinstance(stream, io.BufferedReader):  # plain file: seek to the tail
            size = os.fstat(stream.fileno()).st_size
            stream.seek(max(0, size - _TAIL))
            tail = stream.read()
        else:
            while block := stream.read(1 << 20):
                tail = (tail + block)[-_TAIL:]
    for line in reversed(tail.splitlines()):
        last = _hour_of(line.rstrip(b"\r"))
        if last is not None:
            return HourSpan(first, last)
    return HourSpan(first, first)


def check_range(path: str | os.PathLike[str], hour_from: str | None, hour_to: str | None) -> HourSpan:
    """Raise ValueError (one line) unless both bounds are valid hours within the file's hours.

    Returns the file's span. Missing bounds default to the file's first/last hour.
    """
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"file not found: {file}")
    for name, value in (("from_hour", hour_from), ("to_hour", hour_to)):
        try:
            normalize_hour(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    if hour_from and hour_to and hour_from > hour_to:
        raise ValueError(f"bad range: from_hour {hour_from} is after to_hour {hour_to}")
    span = file_hour_span(file)
    if span is None:
        raise ValueError(f"{file} has no data rows with a readable hour")
    for name, value in (("from_hour", hour_from), ("to_hour", hour_to)):
        if value and not span.first <= value <= span.last:
            raise ValueError(
                f"bad range: {name} {value} is outside the file's hours {span.first}..{span.last}"
            )
    return span


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
