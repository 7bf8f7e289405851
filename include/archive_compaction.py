"""Compacting the archive: one Parquet file per complete hour instead of one per checkpoint.

The streaming job rolls a file in every open hour at every checkpoint, so at live pace an hour
holds ~360 small files (10 s checkpoints) and a day ~8,600. Reading them costs the daily extract
more in per-file and per-column-chunk work than in rows (docs/benchmarks.md, "batch"). The
hourly ``dag_archive_compaction`` rewrites each complete hour that holds more than one data file
into one file, sorted by event time, and removes the files it read.

It is safe beside every writer and reader of the archive without a lock:

- the streaming job only adds files (a checkpoint renames its in-progress file into place).
  Compaction removes only the files it read, so a file added meanwhile (a late event) stays, and
  the next run folds it in;
- a backfill's swap replaces an hour's directory by rename. Compaction works through a handle on
  the directory it listed (``dir_fd``), so an hour swapped away meanwhile is compacted in its old
  place, which the swap deletes, and the new hour is never touched;
- the daily extract keeps one row per event id, so the few milliseconds between the compacted
  file's rename and the removal of its sources (every event of the hour twice) change nothing;
  an extract that listed a file compaction then removed lists the day again.

The format is the archive contract's (include/archive.py): the same columns and types as read,
zstd, no dictionary for the unique ``event_id``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from include import archive

log = logging.getLogger(__name__)

COMPACTED_PREFIX = "part-compacted-"
_WRITING_PREFIX = ".compacting-"  # a leading dot: readers skip the file until it is renamed


@dataclass(frozen=True)
class HourCompacted:
    day: date
    hour: int
    files: int
    rows: int
    bytes_before: int
    bytes_after: int


def archived_days(root: Path) -> list[date]:
    """The days the archive holds a directory for, oldest first."""
    days = []
    for directory in root.glob("dt=*"):
        try:
            days.append(date.fromisoformat(directory.name.partition("=")[2]))
        except ValueError:
            log.warning("skipping %s: not a dt=YYYY-MM-DD directory", directory)
    return sorted(days)


def compact_archive(root: Path, min_files: int = 2) -> Iterator[HourCompacted]:
    """Compact every complete hour of every archived day that holds at least ``min_files`` files."""
    for day in archived_days(root):
        for hour in sorted(archive.complete_hours(root, day)):
            done = compact_hour(root, day, hour, min_files)
            if done:
                yield done


def compact_hour(root: Path, day: date, hour: int, min_files: int = 2) -> HourCompacted | None:
    """Rewrite one hour's data files as one; None when it holds fewer than ``min_files``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = os.open(archive.hour_dir(root, day, hour), os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return None  # swapped away or removed since it was listed
    try:
        names = sorted(n for n in os.listdir(handle) if _is_data_name(n, handle))
        if len(names) < min_files:
            return None
        tables, bytes_before = [], 0
        for name in names:
            with _open(name, os.O_RDONLY, handle, "rb") as source:
                bytes_before += os.fstat(source.fileno()).st_size
                tables.append(pq.read_table(source))
        try:
            table = pa.concat_tables(tables, promote_options="default").sort_by("event_time")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            log.warning("%s hour %02d left as it is: its files disagree on columns (%s)", day, hour, exc)
            return None
        token = uuid.uuid4().hex
        writing, final = f"{_WRITING_PREFIX}{token}", f"{COMPACTED_PREFIX}{token}"
        with _open(writing, os.O_WRONLY | os.O_CREAT | os.O_EXCL, handle, "wb") as target:
            pq.write_table(
                table,
                target,
                compression=archive.COMPRESSION.lower(),
                use_dictionary=[c for c in table.column_names if c != "event_id"],
                row_group_size=1 << 20,
            )
            target.flush()
            os.fsync(target.fileno())
            bytes_after = target.tell()
        os.rename(writing, final, src_dir_fd=handle, dst_dir_fd=handle)
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=handle)
    finally:
        os.close(handle)
    return HourCompacted(day, hour, len(names), table.num_rows, bytes_before, bytes_after)


def _is_data_name(name: str, handle: int) -> bool:
    if name.startswith((".", "_")):
        return False
    try:
        return stat.S_ISREG(os.stat(name, dir_fd=handle, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return False


def _open(name: str, flags: int, handle: int, mode: str) -> BinaryIO:
    return os.fdopen(os.open(name, flags, 0o644, dir_fd=handle), mode)
