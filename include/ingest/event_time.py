"""Replay event times: the i-th of an hour's n rows gets ``hour_start + floor(i * 3600000 / n)`` ms.

The rule and why: docs/design.md "Event time".

``n`` is only known once an hour is complete, so rows are buffered one hour at a time. Only the raw
lines are buffered (~260 bytes each in memory, against ~2 KB for a parsed row): ~45 MB for an
average Avazu hour of 168k rows.

Which rows count: every line attributed to the hour, malformed ones included. A malformed line keeps
its slot, so its neighbours' times do not depend on whether it parses, and a repaired row retried from
the DLQ can get the time it would have had. A line whose hour cannot be read (too few columns, or not a
real ``YYMMDDHH`` such as ``99999999``) belongs to the hour of the line before it (lines before the
first readable hour go with the first hour): it is dead-lettered there and never ends a range.

Unsorted input is rejected, not repaired: Avazu files are sorted by hour and a replay emits an hour as
soon as it is complete, so an hour that reappears later would already have been sent with a wrong
``n``. :class:`UnsortedInputError` names the line; sort such files first with a *stable* sort on the
hour column (``sort -s -t, -k3,3``, header kept apart) so the order within each hour is preserved.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from include.ingest.records import UnsortedInputError

HOUR_MS = 3_600_000


def hour_start_ms(hour: str | bytes) -> int:
    """Epoch milliseconds (UTC) at the start of an Avazu ``YYMMDDHH`` hour (years 20YY)."""
    text = hour.decode("ascii") if isinstance(hour, bytes) else hour
    if len(text) != 8 or not (text.isascii() and text.isdigit()):
        raise ValueError(f"hour must be YYMMDDHH (8 digits), got {text!r}")
    year, month, day, hh = 2000 + int(text[0:2]), int(text[2:4]), int(text[4:6]), int(text[6:8])
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1] and hh <= 23):
        raise ValueError(f"hour {text!r} is not a valid date and hour")
    return calendar.timegm((year, month, day, hh, 0, 0)) * 1000


_VALID_HOURS: dict[str | bytes, bool] = {}


def is_valid_hour(hour: str | bytes) -> bool:
    """Is ``hour`` a real ``YYMMDDHH``? Cached: a file has a few hundred distinct hours."""
    if len(hour) != 8:
        return False
    known = _VALID_HOURS.get(hour)
    if known is None:
        try:
            hour_start_ms(hour)
            known = True
        except (ValueError, UnicodeDecodeError):
            known = False
        if len(_VALID_HOURS) < 100_000:  # a hostile file may hold millions of distinct 8-byte values
            _VALID_HOURS[hour] = known
    return known


def event_time_ms(hour_start: int, i: int, n: int) -> int:
    """Integer arithmetic only: ``i * 3600000 // n`` is exact where a float division could round up."""
    return hour_start + i * HOUR_MS // n


@dataclass(slots=True)
class HourBatch:
    """One hour's lines in file order, numbered from ``first_line_no`` (batch lines are consecutive).

    ``hour`` is None only for a file in which no line has a readable hour.
    """

    hour: bytes | None
    first_line_no: int
    lines: list[bytes] = field(default_factory=list)


def normalize_hour(hour: str | int | bytes | None) -> bytes | None:
    """Filter bounds as comparable bytes; validated so a typo fails before reading a 6 GB file."""
    if hour is None:
        return None
    text = hour.decode("ascii") if isinstance(hour, bytes) else str(hour)
    hour_start_ms(text)
    return text.encode("ascii")


def iter_hour_batches(
    lines: Iterable[tuple[int, bytes]],
    hour_from: str | int | bytes | None = None,
    hour_to: str | int | bytes | None = None,
) -> Iterator[HourBatch]:
    """Group consecutively numbered ``(line_no, line)`` pairs into hours within ``[hour_from, hour_to]``.

    Hours before the (inclusive) range are discarded without buffering; reading stops at the first
    hour after it, which is what makes replaying one hour of a 40M-row file cheap (rows past that
    point are not checked for order).
    """
    low, high = normalize_hour(hour_from), normalize_hour(hour_to)
    current: bytes | None = None
    keep = False
    first = 0
    batch: list[bytes] = []
    pending: list[bytes] = []
    for line_no, line in lines:
        parts = line.split(b",", 3)
        hour = parts[2] if len(parts) == 4 else None
        if hour == current or hour is None or not is_valid_hour(hour):
            if keep:
                batch.append(line)
            elif current is None:
                if not pending:
                    first = line_no
                pending.append(line)
            continue
        if current is not None and hour < current:
            raise UnsortedInputError(
                f"line {line_no}: hour {hour.decode()} comes after hour {current.decode()}; the input must "
                "be sorted by hour (stable sort on the hour column keeps the order within each hour)"
            )
        if keep:
            yield HourBatch(current, first, batch)
        if high is not None and hour > high:
            return
        current = hour
        keep = low is None or hour >= low
        if pending:
            batch, pending = ([*pending, line] if keep else []), []
        else:
            batch, first = ([line] if keep else []), line_no
    if keep:
        yield HourBatch(current, first, batch)
    elif current is None and pending:
        yield HourBatch(None, first, pending)
