"""Stream Avazu CSV files (gzip or plain) into parsed, timed rows, turning every bad row into a RowError.

Avazu has no quoted fields, so splitting on ``,`` is exact and far cheaper than the csv module. The
per-row fast path is one ``bytes.translate`` (is every byte in ``[0-9a-f,-]``?), one ASCII decode, one
split and ``int()`` on the 13 numeric columns; the slow path, taken only by rows with other bytes,
produces precise messages (invalid UTF-8, which column is not an integer). ``int()`` is only trusted on
the fast path because on arbitrary text it also accepts ``" 7"``, ``"+7"``, ``"1_0"`` and non-ASCII
digits.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from typing import IO, Any

from include.ingest.event_time import HOUR_MS, HourBatch, hour_start_ms, iter_hour_batches
from include.ingest.records import AvazuFormatError, AvazuRow, RowError

AVAZU_COLUMNS: tuple[str, ...] = (
    "id",
    "click",
    "hour",
    "C1",
    "banner_pos",
    "site_id",
    "site_domain",
    "site_category",
    "app_id",
    "app_domain",
    "app_category",
    "device_id",
    "device_ip",
    "device_model",
    "device_type",
    "device_conn_type",
    "C14",
    "C15",
    "C16",
    "C17",
    "C18",
    "C19",
    "C20",
    "C21",
)
INT_COLUMNS: tuple[str, ...] = (
    "click",
    "C1",
    "banner_pos",
    "device_type",
    "device_conn_type",
    "C14",
    "C15",
    "C16",
    "C17",
    "C18",
    "C19",
    "C20",
    "C21",
)
AVAZU_HEADER = ",".join(AVAZU_COLUMNS).encode("ascii")
COL = {name: i for i, name in enumerate(AVAZU_COLUMNS)}

_NCOLS = len(AVAZU_COLUMNS)
_INT_IDX = tuple(COL[c] for c in INT_COLUMNS)
_FAST_BYTES = b"0123456789abcdef,-"
_MAX_ID = "18446744073709551615"
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_BLOCK = 1 << 20


def open_avazu(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open for binary reading, decompressing when the file starts with the gzip magic (names lie)."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == _GZIP_MAGIC else open(path, "rb")


def check_header(line: bytes) -> None:
    """Raise AvazuFormatError naming the first differing column, so a wrong file fails in one line."""
    found = line.removeprefix(_BOM).rstrip(b"\r\n")
    if found == AVAZU_HEADER:
        return
    if not found:
        raise AvazuFormatError(f"empty file: expected the Avazu header {AVAZU_HEADER.decode()!r}")
    got = found.decode("utf-8", errors="replace").split(",")
    diff = next((i for i, (a, b) in enumerate(zip(AVAZU_COLUMNS, got, strict=False)) if a != b), None)
    where = (
        f"column {diff + 1} is {got[diff]!r}, expected {AVAZU_COLUMNS[diff]!r}"
        if diff is not None
        else f"{len(got)} columns, expected {_NCOLS}"
    )
    raise AvazuFormatError(
        f"not an Avazu header ({where}): expected {AVAZU_HEADER.decode()!r}, found {found[:300]!r}"
    )


def iter_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """``(line_no, line)`` for every data line (header is line 1), terminators stripped.

    Reads 1 MiB blocks and splits them in C. Blank lines are yielded too: they become parsing errors,
    since a row that silently disappears would break the rows-read accounting.
    """
    header = stream.readline()
    check_header(header)
    crlf = header.endswith(b"\r\n")
    line_no = 1
    rest = b""
    while block := stream.read(_BLOCK):
        if rest:
            block = rest + block
        if crlf:
            block = block.replace(b"\r\n", b"\n")
        lines = block.split(b"\n")
        rest = lines.pop()
        for line in lines:
            line_no += 1
            yield line_no, line
    if crlf and rest.endswith(b"\r"):
        rest = rest[:-1]
    if rest:
        yield line_no + 1, rest


def parse_row(line_no: int, raw: bytes) -> AvazuRow | RowError:
    """Parse one data line; anything malformed comes back as a ``parsing`` RowError carrying ``raw``."""
    if not raw.translate(None, _FAST_BYTES):
        f = raw.decode("ascii").split(",")
        if len(f) == _NCOLS:
            rid, hour = f[0], f[2]
            if (
                rid.isdigit()
                and (len(rid) < 20 or (len(rid) == 20 and rid <= _MAX_ID))
                and len(hour) == 8
                and hour.isdigit()
            ):
                try:
                    values = [
                        rid, int(f[1]), hour, int(f[3]), int(f[4]), f[5], f[6], f[7], f[8], f[9], f[10],
                        f[11], f[12], f[13], int(f[14]), int(f[15]), int(f[16]), int(f[17]), int(f[18]),
                        int(f[19]), int(f[20]), int(f[21]), int(f[22]), int(f[23]),
                    ]  # fmt: skip
                except ValueError:
                    pass
                else:
                    return AvazuRow(line_no, raw, values)
    return _diagnose(line_no, raw)


def _diagnose(line_no: int, raw: bytes) -> AvazuRow | RowError:
    """The slow path: strict checks in column order so the message names the first problem."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RowError("parsing", f"invalid UTF-8 at byte {exc.start}", raw, line_no)
    fields: list[Any] = text.split(",")
    if len(fields) != _NCOLS:
        return RowError("parsing", f"expected {_NCOLS} columns, found {len(fields)}", raw, line_no)
    rid = fields[0]
    if not (rid.isascii() and rid.isdigit() and len(rid) <= 20 and int(rid) < 2**64):
        return RowError("parsing", f"column id: {rid[:40]!r} is not an unsigned 64-bit integer", raw, line_no)
    hour = fields[2]
    if not (len(hour) == 8 and hour.isascii() and hour.isdigit()):
        return RowError("parsing", f"column hour: {hour[:40]!r} is not YYMMDDHH", raw, line_no, rid)
    for i in _INT_IDX:
        value = fields[i]
        digits = value[1:] if value.startswith("-") else value
        if not (digits.isascii() and digits.isdigit()):
            return RowError(
                "parsing", f"column {AVAZU_COLUMNS[i]}: {value[:40]!r} is not an integer", raw, line_no, rid
            )
        fields[i] = int(value)
    return AvazuRow(line_no, raw, fields)


def timed_rows(batch: HourBatch) -> Iterator[AvazuRow | RowError]:
    """Parse one hour's lines and stamp their event times; errors get the time their slot had.

    The rule: docs/design.md "Event time".
    """
    lines = batch.lines
    n = len(lines)
    first = batch.first_line_no
    try:
        start = hour_start_ms(batch.hour) if batch.hour is not None else None
    except ValueError as exc:
        for i, raw in enumerate(lines):
            yield RowError("parsing", f"column hour: {exc}", raw, first + i)
        return
    for i, raw in enumerate(lines):
        row = parse_row(first + i, raw)
        if start is not None:
            row.event_time = start + i * HOUR_MS // n
        yield row


def read_avazu(
    path: str | os.PathLike[str],
    hour_from: str | int | None = None,
    hour_to: str | int | None = None,
) -> Iterator[AvazuRow | RowError]:
    """Every row of ``path`` with ``hour_from <= hour <= hour_to`` (YYMMDDHH, inclusive), in file order.

    Yields AvazuRow (with ``event_time``) or RowError; raises only for file-level problems
    (AvazuFormatError: bad header; UnsortedInputError: hours out of order; OSError).
    """
    with open_avazu(path) as stream:
        for batch in iter_hour_batches(iter_lines(stream), hour_from, hour_to):
            yield from timed_rows(batch)
