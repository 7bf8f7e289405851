"""Whole-file checks of an Avazu file, before a single row is published.

One pass over the file (gzip decompressed as it streams, lines bounded by INGEST_MAX_LINE_BYTES, so
memory stays flat for any input) finds what would otherwise only show up midway through a replay:
an empty file or a directory, a missing or wrong header, a truncated or corrupt gzip, hours out of
order. Each is one :class:`FileCheckError` line (a ``ValueError``: the replay exits 2, the replay
DAG's ``validate`` task fails without retry). It also returns what the replay needs to know up
front (:class:`FileFacts`): the rows and their hours.

The hour of a line is its third field, taken as the replay takes it (``line.split(",", 3)``, at
least four fields); a value that is not a real ``YYMMDDHH`` is no hour, and such lines belong to
the hour before them (docs/design.md "Event time"), so they never affect the order check.
Results are memoised per (path, inode, size, mtime): the CLI, the DAG's validate task and the
replay itself check the same file without reading it three times.
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

from include.ingest.avazu_reader import check_header, iter_line_blocks, open_avazu, read_header
from include.ingest.event_time import is_valid_hour
from include.ingest.records import AvazuFormatError, UnsortedInputError

# The third field of every line that has at least four (the replay's ``split(b",", 3)`` rule).
_HOUR_FIELD = re.compile(rb"^[^,\n]*,[^,\n]*,([^,\n]*),", re.MULTILINE)
_MEMO: dict[tuple[str, int, int, int], FileFacts] = {}


class FileCheckError(ValueError):
    """A whole-file problem, in one line without the file's content."""


@dataclass(frozen=True)
class FileFacts:
    """What one pass over a good file found.

    ``rows``: data lines (blank and bad ones included: each is published or dead-lettered).
    ``hours``: rows per readable hour, in file order. ``rows_without_hour``: lines with no real
    ``YYMMDDHH`` (they join the hour before them).
    """

    rows: int
    hours: dict[str, int] = field(default_factory=dict)
    rows_without_hour: int = 0

    @property
    def first_hour(self) -> str | None:
        return next(iter(self.hours), None)

    @property
    def last_hour(self) -> str | None:
        return next(reversed(self.hours), None) if self.hours else None


def check_file(path: str | os.PathLike[str]) -> FileFacts:
    """Check ``path`` as a whole; raises :class:`FileCheckError` naming the first problem."""
    file = Path(path)
    try:
        st = file.stat()
    except FileNotFoundError:
        raise FileCheckError(f"file not found: {file}") from None
    except OSError as exc:
        raise FileCheckError(f"cannot read {file}: {exc.strerror or exc}") from None
    if file.is_dir():
        raise FileCheckError(f"{file} is a directory, not a file")
    if not file.is_file():
        raise FileCheckError(f"{file} is not a regular file")
    if st.st_size == 0:
        raise FileCheckError(f"{file} is empty: expected an Avazu CSV with a header")
    key = (str(file.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    facts = _MEMO.get(key)
    if facts is None:
        facts = _scan(file)
        _MEMO.clear()  # one file at a time is what the callers need
        _MEMO[key] = facts
    return facts


def _scan(file: Path) -> FileFacts:
    hours: dict[str, int] = {}
    rows = bad = 0
    last: bytes | None = None
    try:
        with open_avazu(file) as stream:
            try:
                check_header(read_header(stream))
            except AvazuFormatError as exc:
                raise FileCheckError(f"{file}: {exc}") from None
            for lines in iter_line_blocks(stream):
                joined = b"\n".join(lines)
                counted = 0
                before = last
                for hour, run in groupby(_HOUR_FIELD.findall(joined)):
                    if not is_valid_hour(hour):
                        continue
                    n = sum(1 for _ in run)
                    counted += n
                    if last is not None and hour < last:
                        raise UnsortedInputError(_unsorted(rows, lines, before))
                    text = hour.decode("ascii")
                    hours[text] = hours.get(text, 0) + n
                    last = hour
                rows += len(lines)
                bad += len(lines) - counted
    except UnsortedInputError as exc:
        raise FileCheckError(f"{file}: {exc}") from None
    except (EOFError, zlib.error, OSError) as exc:
        what = "truncated" if isinstance(exc, EOFError) else "corrupt or unreadable"
        raise FileCheckError(
            f"{file}: {what} input ({type(exc).__name__}: {exc}); nothing was published"
        ) from None
    if rows == 0:
        raise FileCheckError(f"{file} has a header but no data rows")
    return FileFacts(rows=rows, hours=hours, rows_without_hour=bad)


def _unsorted(rows_before: int, lines: list[bytes], last: bytes | None) -> str:
    """Names the first line whose hour is before the hour already seen (line 1 is the header)."""
    current = last
    for k, line in enumerate(lines):
        parts = line.split(b",", 3)
        hour = parts[2] if len(parts) == 4 else None
        if hour is None or not is_valid_hour(hour):
            continue
        if current is not None and hour < current:
            return (
                f"line {rows_before + k + 2}: hour {hour.decode()} comes after hour {current.decode()}; "
                "the input must be sorted by hour (replay --sort, the replay DAG's sort param, or a stable sort "
                "on the hour column)"
            )
        current = hour
    return "hours out of order"  # unreachable: the caller saw the inversion in these lines


def check_range(facts: FileFacts, hour_from: str | None, hour_to: str | None) -> None:
    """Raise :class:`FileCheckError` unless the bounds lie within the file's hours."""
    if not hour_from and not hour_to:
        return  # every row is replayed: rows without a readable hour are dead-lettered, not refused
    first, last = facts.first_hour, facts.last_hour
    if first is None or last is None:
        raise FileCheckError("no data row has a readable hour (YYMMDDHH)")
    for name, value in (("from_hour", hour_from), ("to_hour", hour_to)):
        if value and not first <= value <= last:
            raise FileCheckError(f"bad range: {name} {value} is outside the file's hours {first}..{last}")
