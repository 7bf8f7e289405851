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
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from include.ingest.event_time import HOUR_MS, HourBatch, hour_start_ms, is_valid_hour, iter_hour_batches
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
# Hashed identifiers, lowercase hex in the event schema; every other column but id and hour is an integer.
HEX_COLUMNS: tuple[str, ...] = ("site_id", "site_domain", "site_category", "app_id", "app_domain", "app_category",
                                "device_id", "device_ip", "device_model")  # fmt: skip
INT_COLUMNS: tuple[str, ...] = tuple(c for c in AVAZU_COLUMNS if c not in ("id", "hour", *HEX_COLUMNS))
AVAZU_HEADER = ",".join(AVAZU_COLUMNS).encode("ascii")
COL = {name: i for i, name in enumerate(AVAZU_COLUMNS)}

_NCOLS = len(AVAZU_COLUMNS)
_INT_IDX = tuple(COL[c] for c in INT_COLUMNS)
_FAST_BYTES = b"0123456789abcdef,-"
_MAX_ID = "18446744073709551615"
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_BLOCK = 1 << 20
_HEADER_LIMIT = (
    4096  # the header is 226 bytes: a longer first line is not one (e.g. a newline-free gzip bomb)
)
DEFAULT_MAX_LINE_BYTES = 65536
OVERLONG_PREFIX_BYTES = 1024
# Stands in for an over-long line in the line stream. The random part (handed to the sender
# processes, see use_overlong_mark) means no line of a file can pose as one.
_OVERLONG_MARK = b"\x00\x00overlong-" + os.urandom(8).hex().encode() + b":"


def overlong_mark() -> bytes:
    """This process's over-long marker, for the processes that decode the lines it reads."""
    return _OVERLONG_MARK


def use_overlong_mark(mark: bytes) -> None:
    """Decodes markers made by the reading process (a sender process calls this once at start)."""
    global _OVERLONG_MARK
    _OVERLONG_MARK = mark


def max_line_bytes() -> int:
    """Setting INGEST_MAX_LINE_BYTES (the default when it is not a positive integer)."""
    from include import config

    try:
        value = int(config.get("INGEST_MAX_LINE_BYTES"))
    except (KeyError, ValueError):
        return DEFAULT_MAX_LINE_BYTES
    return value if value > 0 else DEFAULT_MAX_LINE_BYTES


@dataclass(frozen=True, slots=True)
class Overlong:
    """A line longer than the limit: only its prefix travels; ``path`` holds every byte when kept."""

    length: int
    sha256: str
    path: str | None
    prefix: bytes


class _Spill:
    """Hashes (and, given a directory, stores) one over-long line as it streams past, in bounded memory."""

    def __init__(self, spill_dir: Path | None) -> None:
        self.digest = hashlib.sha256()
        self.length = 0
        self.prefix = b""
        self._cr = b""  # a trailing CR may be the first half of a CRLF terminator
        self._dir = spill_dir
        self._file: IO[bytes] | None = None
        if spill_dir is not None:
            spill_dir.mkdir(parents=True, exist_ok=True)
            self._tmp = spill_dir / f".partial-{os.getpid()}-{os.urandom(6).hex()}"
            self._file = open(self._tmp, "wb")  # noqa: SIM115 - closed in finish()

    def write(self, data: bytes) -> None:
        data, self._cr = self._cr + data, b""
        if data.endswith(b"\r"):
            data, self._cr = data[:-1], b"\r"
        if not data:
            return
        self.digest.update(data)
        self.length += len(data)
        if len(self.prefix) < OVERLONG_PREFIX_BYTES:
            self.prefix += data[: OVERLONG_PREFIX_BYTES - len(self.prefix)]
        if self._file is not None:
            self._file.write(data)

    def finish(self) -> bytes:
        """The marker line; a CR left pending was the line's terminator (CRLF, or CR at the end of file)."""
        sha = self.digest.hexdigest()
        path = None
        if self._file is not None and self._dir is not None:
            self._file.close()
            target = self._dir / sha
            os.replace(self._tmp, target)
            path = str(target)
        meta = b"%d:%s:%s\x00" % (self.length, sha.encode(), (path or "").encode().hex().encode())
        return _OVERLONG_MARK + meta + self.prefix


def overlong_of(raw: bytes) -> Overlong | None:
    """The over-long line a marker stands for (None for an ordinary line)."""
    if not raw.startswith(_OVERLONG_MARK):
        return None
    meta, _, prefix = raw[len(_OVERLONG_MARK) :].partition(b"\x00")
    length, sha, path = meta.split(b":", 2)
    return Overlong(int(length), sha.decode(), bytes.fromhex(path.decode()).decode() or None, prefix)


def _spilled(line: bytes, spill_dir: Path | None) -> bytes:
    spill = _Spill(spill_dir)
    spill.write(line)
    return spill.finish()


def open_avazu(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open for binary reading, decompressing when the file starts with the gzip magic (names lie)."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    return gzip.open(path, "rb") if magic == _GZIP_MAGIC else open(path, "rb")


def read_header(stream: IO[bytes]) -> bytes:
    """The first line, read with a bound: a file without newlines must not be read whole."""
    line = stream.readline(_HEADER_LIMIT)
    if len(line) >= _HEADER_LIMIT and not line.endswith(b"\n"):
        raise AvazuFormatError(
            f"not an Avazu header: the first line is longer than {_HEADER_LIMIT} bytes "
            f"(expected {AVAZU_HEADER.decode()!r})"
        )
    return line


def check_header(line: bytes) -> None:
    """Raise AvazuFormatError naming the first differing column, so a wrong file fails in one line.

    The message names columns by position and expected name only: the file's own bytes never reach
    an error (a log line or a Slack alert), whatever file was named.
    """
    found = line.removeprefix(_BOM).rstrip(b"\r\n")
    if found == AVAZU_HEADER:
        return
    if not found:
        raise AvazuFormatError(f"empty file: expected the Avazu header {AVAZU_HEADER.decode()!r}")
    got = found.split(b",")
    names = [c.encode() for c in AVAZU_COLUMNS]
    diff = next((i for i, (a, b) in enumerate(zip(names, got, strict=False)) if a != b), None)
    where = (
        f"column {diff + 1} is not {AVAZU_COLUMNS[diff]!r}"
        if diff is not None
        else f"{len(got)} columns, expected {_NCOLS}"
    )
    raise AvazuFormatError(f"not an Avazu header ({where}): expected {AVAZU_HEADER.decode()!r}")


def iter_line_blocks(
    stream: IO[bytes], max_line: int | None = None, spill_dir: Path | None = None
) -> Iterator[list[bytes]]:
    """The data lines after the header, a block at a time, terminators stripped.

    Line endings: every line ends with LF or CRLF, each line on its own (LF-header/CRLF-row and
    mixed files read the same as clean ones); a CR anywhere else is data. A line longer than
    ``max_line`` bytes (default: setting INGEST_MAX_LINE_BYTES) is never held in memory: it streams
    through a SHA-256 (and into ``spill_dir/<sha256>`` when given) and is replaced by a marker that
    :func:`parse_row` turns into a ``parsing`` RowError (:func:`overlong_of`).
    """
    limit = max_line or max_line_bytes()
    rest = b""
    while block := stream.read(_BLOCK):
        if rest:
            block = rest + block
        block = block.replace(b"\r\n", b"\n")
        lines = block.split(b"\n")
        rest = lines.pop()
        if len(block) - len(rest) > limit:  # only then can a complete line be over the limit
            lines = [line if len(line) <= limit else _spilled(line, spill_dir) for line in lines]
        if len(rest) > limit:
            spill = _Spill(spill_dir)
            spill.write(rest)
            rest = b""
            while piece := stream.read(_BLOCK):
                end = piece.find(b"\n")
                if end >= 0:
                    spill.write(piece[:end])
                    rest = piece[end + 1 :]
                    break
                spill.write(piece)
            lines.append(spill.finish())
        if lines:
            yield lines
    if rest.endswith(b"\r"):
        rest = rest[:-1]
    if rest:
        yield [rest if len(rest) <= limit else _spilled(rest, spill_dir)]


def iter_lines(
    stream: IO[bytes], max_line: int | None = None, spill_dir: Path | None = None
) -> Iterator[tuple[int, bytes]]:
    """``(line_no, line)`` for every data line (header is line 1), terminators stripped.

    Reads 1 MiB blocks and splits them in C (:func:`iter_line_blocks`: line endings, over-long
    lines). Blank lines are yielded too: they become parsing errors, since a row that silently
    disappears would break the rows-read accounting.
    """
    check_header(read_header(stream))
    line_no = 1
    for lines in iter_line_blocks(stream, max_line, spill_dir):
        for line in lines:
            line_no += 1
            yield line_no, line


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
                and is_valid_hour(hour)
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
    overlong = overlong_of(raw)
    if overlong is not None:
        return RowError(
            "parsing",
            f"line of {overlong.length} bytes is longer than the limit (setting INGEST_MAX_LINE_BYTES); "
            f"sha256 {overlong.sha256}",
            overlong.prefix,
            line_no,
            raw_ref={"bytes": overlong.length, "sha256": overlong.sha256, "path": overlong.path},
        )
    if b"\x00" in raw:
        return RowError("parsing", f"NUL byte at byte {raw.index(0)}", raw, line_no)
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
    if not is_valid_hour(hour):
        return RowError(
            "parsing", f"column hour: {hour!r} is not a valid date and hour (YYMMDDHH)", raw, line_no, rid
        )
    for i in _INT_IDX:
        value = fields[i]
        digits = value[1:] if value.startswith("-") else value
        if not (digits.isascii() and digits.isdigit()):
            return RowError(
                "parsing", f"column {AVAZU_COLUMNS[i]}: {value[:40]!r} is not an integer", raw, line_no, rid
            )
        try:
            fields[i] = int(value)
        except ValueError:  # more digits than int() converts (4300): far beyond any column's range
            return RowError(
                "schema",
                f"column {AVAZU_COLUMNS[i]}: {len(digits)}-digit integer is out of range",
                raw,
                line_no,
                rid,
                field=AVAZU_COLUMNS[i],
            )
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
