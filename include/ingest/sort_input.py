"""Sort an Avazu file by hour, out of core and stably: ``replay --sort`` (and the DAG, through
:func:`sort_by_hour`).

A bucket sort: one pass splits the lines into one temporary file per hour (file order kept within
each hour, which is what makes it stable), then the buckets are concatenated in hour order under the
header. Memory is bounded by the write buffers (``_BUFFER_BYTES`` in all) and the line limit, whatever
the file's size; temporary files live under ``DATA_DIR/tmp``. Bytes are copied, never decoded:
a bad row stays exactly as bad in the sorted copy and is dead-lettered by the replay as before.

Which hour a line sorts with is the replay's rule (docs/design.md "Event time"): its third field
when that is a real ``YYMMDDHH``, else the hour of the line before it (lines before the first
readable hour go with the first readable hour). Line ends become LF; an over-long line is copied
whole from where the reader streamed it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from include import config
from include.ingest.avazu_reader import AVAZU_HEADER, iter_line_blocks, open_avazu, overlong_of
from include.ingest.event_time import is_valid_hour
from include.ingest.preflight import FileCheckError, check_file

_BUFFER_BYTES = 64 << 20
_NO_HOUR = b"none"


def sorted_copy_path(path: Path, out_dir: Path | None = None) -> Path:
    """Where the sorted copy of ``path`` goes: named by the file and its size and mtime, so a changed
    file gets a new copy and an unchanged one is not sorted twice."""
    st = path.stat()
    tag = hashlib.sha256(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]
    base = out_dir or Path(config.get("DATA_DIR")) / "raw" / "sorted"
    name = path.name.removesuffix(".gz").removesuffix(".csv")
    return base / f"{name}.{tag}.sorted.csv"


def sort_by_hour(path: str | os.PathLike[str], out_dir: Path | None = None) -> Path:
    """A copy of ``path`` sorted by hour (stable), as plain CSV; returns its path.

    Raises :class:`~include.ingest.preflight.FileCheckError` (one line) for problems the sort cannot
    fix: not a file, empty, no Avazu header, a truncated gzip. Hours out of order are what it fixes.
    """
    source = Path(path)
    try:
        check_file(source)
    except FileCheckError as exc:
        if "sorted by hour" not in str(exc):
            raise
    target = sorted_copy_path(source, out_dir)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_root = Path(config.get("DATA_DIR")) / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp_root, prefix="sort-") as work:
        buckets = _split(source, Path(work))
        partial = target.with_name(f".{target.name}.partial")
        with open(partial, "wb") as out:
            out.write(AVAZU_HEADER + b"\n")
            for hour in sorted(buckets):
                with open(buckets[hour], "rb") as bucket:
                    shutil.copyfileobj(bucket, out, 1 << 20)
        os.replace(partial, target)
    return target


def _split(source: Path, work: Path) -> dict[bytes, Path]:
    files: dict[bytes, Path] = {}
    buffers: dict[bytes, list[bytes]] = {}
    buffered = 0
    current: bytes | None = None  # until the first readable hour, lines go to the _NO_HOUR bucket

    def flush() -> None:
        nonlocal buffered
        for hour, lines in buffers.items():
            path = files.setdefault(hour, work / f"{len(files):08d}")
            with open(path, "ab") as bucket:
                for line in lines:
                    _write_line(bucket, line)
        buffers.clear()
        buffered = 0

    with open_avazu(source) as stream:
        stream.readline(4096)  # the header: checked above
        for lines in iter_line_blocks(stream, spill_dir=work / "overlong"):
            for line in lines:
                parts = line.split(b",", 3)
                hour = parts[2] if len(parts) == 4 else None
                if hour is not None and hour != current and is_valid_hour(hour):
                    if current is None and (_NO_HOUR in buffers or _NO_HOUR in files):
                        flush()
                        files[hour] = files.pop(_NO_HOUR)  # those lines open the first hour
                    current = hour
                buffers.setdefault(current or _NO_HOUR, []).append(line)
                buffered += len(line) + 1
            if buffered > _BUFFER_BYTES:
                flush()
    flush()
    return files


def _write_line(out: object, line: bytes) -> None:
    overlong = overlong_of(line)
    if overlong is not None and overlong.path is not None:
        with open(overlong.path, "rb") as full:
            shutil.copyfileobj(full, out, 1 << 20)  # type: ignore[arg-type]
        out.write(b"\n")  # type: ignore[attr-defined]
        return
    out.write(line + b"\n")  # type: ignore[attr-defined]
