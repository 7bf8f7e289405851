"""The archive of validated events: the streaming job writes it, the daily batch reads it.

This module is the one definition of that contract; the Flink job renders its file sink from it
(``include/flink_jobs/ad_window_metrics/sql.py``) and the extract reads through it
(``include/batch/extract.py``). It imports only the standard library (the job's client and the
Airflow workers both load it).

Layout
    ``<FLINK_ARCHIVE_URI>/dt=YYYY-MM-DD/hour_of_day=HH/part-*``: one directory per UTC hour of *event*
    time. Files whose name starts with ``.`` (in progress) or ``_`` (markers) are not data.
Format
    Parquet, zstd-compressed, one row per event with the typed columns of :data:`COLUMNS` (the
    event schema's properties). Measured: ~46 bytes per Avazu event, against ~560 for the JSON line
    (docs/batch.md "Archive").
Hour complete
    ``_SUCCESS`` in an hour's directory: the job's watermark has reached the hour's last
    millisecond, so no on-time event of it is still to come (a ``late_event`` may still add a file;
    it is in the dead-letter topic too). That is exactly where a replay's end-of-input markers put
    the watermark (include/ingest/end_of_input.py), so a replayed hour completes without waiting
    for the next one. Files appear atomically when a checkpoint completes: exactly once per run of
    the job.
Duplicates
    A job restarted without its state (a redeploy from scratch, an hour replayed again) archives
    the same events again. Readers keep one row per ``event_id`` and say how many they dropped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import unquote, urlparse

FORMAT = "parquet"
COMPRESSION = "ZSTD"
HOUR_COMPLETE_MARKER = "_SUCCESS"
HOURS_PER_DAY = 24
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Column:
    """One archived column: its name in the event schema and its Flink SQL type."""

    name: str
    flink_type: str


_TEXT = ("hour", "site_id", "site_domain", "site_category", "app_id", "app_domain", "app_category",
         "device_id", "device_ip", "device_model", "campaign_id", "creative_id")  # fmt: skip
_INTEGER = ("C1", "banner_pos", "device_type", "device_conn_type", *(f"C{n}" for n in range(14, 22)))

COLUMNS: tuple[Column, ...] = (
    Column("event_id", "STRING"),
    Column("event_time", "BIGINT"),  # epoch milliseconds, UTC
    Column("click", "INT"),
    Column("conversion", "INT"),
    Column("cost", "DECIMAL(18, 6)"),
    Column("revenue", "DECIMAL(18, 6)"),
    *(Column(name, "STRING") for name in _TEXT),
    # BIGINT although Avazu's values fit INT: a wider value from a live producer is kept as sent and
    # rejected by the batch's validation, not lost by the writer.
    *(Column(name, "BIGINT") for name in _INTEGER),
    Column("price_model_version", "STRING"),
    Column("source", "STRING"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
PARTITION_KEYS: tuple[str, ...] = ("dt", "hour_of_day")


class ArchiveError(RuntimeError):
    """The archive cannot be read as asked (unsupported location, missing day)."""


def root_path(uri: str) -> Path:
    """The local directory of an archive URI (``file:///...`` or a plain path).

    The job writes through Flink's file systems (object stores too); the batch reads local files.
    """
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path) if parsed.scheme else uri)
    raise ArchiveError(f"the daily batch reads the archive from local files; {uri!r} is not a file:// URI")


def day_dir(root: Path, day: date) -> Path:
    return root / f"dt={day.isoformat()}"


def hour_dir(root: Path, day: date, hour: int) -> Path:
    return day_dir(root, day) / f"hour_of_day={hour:02d}"


def is_data_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith((".", "_"))


def committed_files(root: Path, day: date) -> list[Path]:
    """Every committed data file of the day, in a stable order."""
    return sorted(p for p in day_dir(root, day).glob("hour_of_day=*/*") if is_data_file(p))


def complete_hours(root: Path, day: date) -> set[int]:
    """Hours of the day whose directory holds the completion marker."""
    done = set()
    for marker in day_dir(root, day).glob(f"hour_of_day=*/{HOUR_COMPLETE_MARKER}"):
        text = marker.parent.name.partition("=")[2]
        if text.isdigit():
            done.add(int(text))
    return done


def missing_hours(root: Path, day: date, hours: Iterable[int] = range(HOURS_PER_DAY)) -> list[int]:
    """The hours of ``hours`` that are not complete yet (empty: the day can be built)."""
    done = complete_hours(root, day)
    return [h for h in hours if h not in done]


def flink_sink_options(uri: str) -> dict[str, str]:
    """WITH options of the job's filesystem sink that make it write this contract.

    Bulk formats roll a file at every checkpoint. Flink commits a partition once the watermark is
    *after* partition time + delay; with the hour's start as partition time and a delay of one hour
    minus 2 ms, that is a watermark of at least the hour's last millisecond.
    """
    return {
        "connector": "filesystem",
        "path": uri,
        "format": FORMAT,
        "parquet.compression": COMPRESSION,
        # A dictionary of unique ids never pays: Parquet builds it for every page, then gives up.
        "parquet.enable.dictionary#event_id": "false",
        "sink.partition-commit.trigger": "partition-time",
        "partition.time-extractor.timestamp-pattern": "$dt $hour_of_day:00:00",
        "sink.partition-commit.delay": f"{HOUR_MS - 2} ms",
        "sink.partition-commit.watermark-time-zone": "UTC",
        "sink.partition-commit.policy.kind": "success-file",
        "sink.partition-commit.success-file.name": HOUR_COMPLETE_MARKER,
    }


def bytes_on_disk(root: Path) -> int:
    """Total size of the archive's data files (for the benchmarks)."""
    total = 0
    for directory, _dirs, files in os.walk(root):
        total += sum(
            os.path.getsize(os.path.join(directory, f)) for f in files if not f.startswith((".", "_"))
        )
    return total
