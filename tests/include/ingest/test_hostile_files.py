"""Hostile input, without services: one rule per class of bad input in the replay's reader, its
preflight, its validation and its dead letters (docs/ingestion.md "Hostile input")."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import textwrap
from array import array
from pathlib import Path

import pytest

from include.dlq.attempt import Repaired, StillBad, attempt
from include.ingest.avazu_reader import AVAZU_HEADER, iter_lines, open_avazu, read_avazu
from include.ingest.columnar import BlockEncoder, ColumnValidator
from include.ingest.economics import load_price_model
from include.ingest.event_time import hour_start_ms
from include.ingest.events import (
    compile_validator,
    dead_letter_for,
    encode_row,
    load_schema,
    original_payload,
    truncate_dead_letter,
    with_storage_bounds,
)
from include.ingest.input_files import resolve_input_file
from include.ingest.preflight import FileCheckError, check_file
from include.ingest.records import AvazuRow, RowError
from include.ingest.sender import DLQ_RECORD_LIMIT, Sender
from include.ingest.sort_input import sort_by_hour

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def rows(sample_lines: list[bytes]) -> list[bytes]:
    return sample_lines[1:]


@pytest.fixture(scope="module")
def validator():
    return compile_validator(load_schema())


@pytest.fixture(scope="module")
def model():
    return load_price_model()


def with_hour(line: bytes, hour: bytes) -> bytes:
    f = line.split(b",")
    f[2] = hour
    return b",".join(f)


def with_field(line: bytes, index: int, value: bytes) -> bytes:
    f = line.split(b",")
    f[index] = value
    return b",".join(f)


def write(path: Path, lines: list[bytes], header: bytes = AVAZU_HEADER + b"\n", eol: bytes = b"\n") -> Path:
    path.write_bytes(header + b"".join(line + eol for line in lines))
    return path


def read_all(path: Path, hour_from: str | None = None, hour_to: str | None = None) -> list:
    return list(read_avazu(path, hour_from, hour_to))


def two_hours(rows: list[bytes]) -> list[bytes]:
    return [with_hour(r, b"14102100") for r in rows[:50]] + [with_hour(r, b"14102101") for r in rows[50:]]


# -- 1. one rule for every row ------------------------------------------------------------------


@pytest.mark.parametrize("garbage", [b"99999999", b"14109999", b"abc", b""])
def test_a_garbage_hour_mid_file_is_dead_lettered_and_never_ends_the_range(
    tmp_path: Path, rows: list[bytes], garbage: bytes
) -> None:
    lines = two_hours(rows)
    lines[30] = with_hour(lines[30], garbage)
    path = write(tmp_path / "g.csv", lines)
    check_file(path)  # not a whole-file problem
    for bounds in [(None, None), ("14102100", "14102101"), (None, "14102101"), ("14102100", "14102100")]:
        items = read_all(path, *bounds)
        expected = 100 if bounds[1] != "14102100" else 50
        assert len(items) == expected, bounds  # no early stop
        bad = [i for i in items if isinstance(i, RowError)]
        assert [(e.line_no, e.error_type) for e in bad] == [(32, "parsing")]
        assert "hour" in bad[0].message


def test_a_valid_hour_out_of_order_is_a_whole_file_error_naming_the_line(
    tmp_path: Path, rows: list[bytes]
) -> None:
    lines = two_hours(rows)
    lines[30] = with_hour(lines[30], b"24010100")  # a real, future hour in the middle
    path = write(tmp_path / "future.csv", lines)
    with pytest.raises(FileCheckError, match=r"line 33: hour 14102100 comes after hour 24010100") as raised:
        check_file(path)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("eol", [b"\r\n", b"mixed"])
def test_line_endings_are_per_line_lf_or_crlf(tmp_path: Path, rows: list[bytes], eol: bytes) -> None:
    clean = [i.values for i in read_all(write(tmp_path / "lf.csv", rows))]
    if eol == b"mixed":
        body = b"".join(r + (b"\r\n" if k % 2 else b"\n") for k, r in enumerate(rows))
        path = tmp_path / "mixed.csv"
        path.write_bytes(AVAZU_HEADER + b"\n" + body)
    else:  # LF header, CRLF rows: the case the stream used to dead-letter and the ETL loaded
        path = write(tmp_path / "crlf.csv", rows, eol=eol)
    items = read_all(path)
    assert [i.values for i in items if isinstance(i, AvazuRow)] == clean
    check_file(path)


def test_every_kind_of_bad_line_is_one_dead_letter_with_its_line_number(
    tmp_path: Path, rows: list[bytes], validator, model
) -> None:
    bad = {
        3: rows[2][:10] + b"\x00" + rows[2][10:],  # NUL byte
        5: b"\xef\xbb\xbf" + rows[4],  # BOM on a data line
        7: with_field(rows[6], 5, b'"1fbe,01fe"'),  # a quoted comma
        9: b"",  # blank line
        11: rows[10].rsplit(b",", 1)[0],  # 23 columns
        13: rows[12] + b",1",  # 25 columns
        15: with_field(rows[14], 16, b"2147483648"),  # C14 beyond int32 (PostgreSQL integer)
        17: with_field(rows[16], 19, b"9" * 25),  # C17 beyond int64
        19: with_field(rows[18], 5, b"\xe9t\xe9abcd"),  # Latin-1, not UTF-8
    }
    lines = [bad.get(k + 1, r) for k, r in enumerate(rows)]
    path = write(tmp_path / "bad.csv", lines)
    facts = check_file(path)
    assert facts.rows == len(rows)
    encoded = [encode_row(i, validator, model) for i in read_all(path)]
    errors = {e.line_no - 1: e for e in encoded if isinstance(e, RowError)}
    assert len(encoded) == len(rows)  # published + dead-lettered = rows in the file
    assert sorted(errors) == sorted(bad)
    assert errors[15].field == "C14" and "2147483647" in errors[15].message
    assert errors[17].error_type == "schema" and errors[17].field == "C17"
    for k, error in errors.items():
        assert error.raw == bad[k]  # the exact bytes, terminator stripped


def test_the_columnar_encoder_fails_only_the_row_beyond_int64(rows: list[bytes], model) -> None:
    hour = rows[0].split(b",")[2]
    lines = [with_hour(r, hour) for r in rows]
    lines[40] = with_field(lines[40], 18, b"99999999999999999999")  # C16, > 2**64
    lines[41] = with_field(lines[41], 16, b"4294967296")  # C14, int64 but > int32
    encoder = BlockEncoder(ColumnValidator(load_schema()), model)
    out = encoder.encode(lines, array("l", range(len(lines))), hour, hour_start_ms(hour), len(lines), 2)
    errors = [(k, o.field) for k, o in enumerate(out) if isinstance(o, RowError)]
    assert errors == [(40, "C16"), (41, "C14")]


# -- 2. whole-file problems, before anything is published --------------------------------------


def test_whole_file_problems_are_one_line(tmp_path: Path, rows: list[bytes]) -> None:
    good = write(tmp_path / "good.csv", rows).read_bytes()
    gz = gzip.compress(good * 200)
    cases = {
        "empty": (b"", "is empty"),
        "header only": (AVAZU_HEADER + b"\n", "no data rows"),
        "no header": (b"\n".join(rows) + b"\n", "not an Avazu header"),
        "wrong header": (good.replace(b"banner_pos", b"bannerpos", 1), "column 5 is not 'banner_pos'"),
        "truncated gzip": (gz[: len(gz) // 2], "truncated"),
        "corrupt gzip": (gz[:100] + b"\x00" * 200 + gz[300:], "corrupt|truncated"),
        "newline-free": (b"x" * 100_000, "longer than 4096 bytes"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name.replace(" ", "_")
        path.write_bytes(data)
        with pytest.raises(FileCheckError, match=message) as raised:
            check_file(path)
        assert "\n" not in str(raised.value), name
        assert "bannerpos" not in str(raised.value) and rows[0][:20].decode() not in str(raised.value)
    with pytest.raises(FileCheckError, match="is a directory"):
        check_file(tmp_path)
    with pytest.raises(FileCheckError, match="file not found"):
        check_file(tmp_path / "nope.csv")


def test_sort_by_hour_is_stable_and_binary_safe(tmp_path: Path, rows: list[bytes], monkeypatch) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    hours = [b"14102102", b"14102100", b"14102101"]
    lines = [with_hour(r, hours[k % 3]) for k, r in enumerate(rows)]
    lines[4] = lines[4] + b"\xff"  # a bad row travels with its hour, byte for byte
    lines[7] = b"junk"  # no hour: stays after the line before it
    path = write(tmp_path / "unsorted.csv", lines, eol=b"\r\n")
    with pytest.raises(FileCheckError, match="sorted by hour"):
        check_file(path)
    out = sort_by_hour(path)
    assert out.is_relative_to(tmp_path / "data")
    facts = check_file(out)
    assert list(facts.hours) == ["14102100", "14102101", "14102102"]
    got = out.read_bytes().split(b"\n")[1:-1]
    owner = {}
    current = None
    for line in lines:
        h = line.split(b",")[2] if line.count(b",") >= 3 else None
        current = h if h in hours else current
        owner.setdefault(current, []).append(line)
    assert got == owner[b"14102100"] + owner[b"14102101"] + owner[b"14102102"]
    assert sort_by_hour(path) == out  # not sorted twice


# -- 3. bounded memory --------------------------------------------------------------------------


def test_an_overlong_line_is_dead_lettered_with_prefix_length_hash_and_full_bytes(
    tmp_path: Path, rows: list[bytes], monkeypatch
) -> None:
    monkeypatch.setenv("INGEST_MAX_LINE_BYTES", "4096")
    long = rows[1] + b"," + b"7" * 3_000_000
    path = write(tmp_path / "long.csv", [rows[0], long, rows[2]], eol=b"\r\n")
    spill = tmp_path / "spill"
    with open_avazu(path) as stream:
        items = list(iter_lines(stream, spill_dir=spill))
    assert [n for n, _ in items] == [2, 3, 4]
    from include.ingest.avazu_reader import parse_row

    error = parse_row(3, items[1][1])
    assert isinstance(error, RowError) and error.error_type == "parsing" and error.line_no == 3
    ref = error.raw_ref
    assert ref["bytes"] == len(long) and ref["sha256"] == hashlib.sha256(long).hexdigest()
    assert Path(ref["path"]).read_bytes() == long and error.raw == long[:1024]
    record = dead_letter_for(error)
    assert len(json.dumps(record)) < 10_000
    assert original_payload(record).encode() == long  # what the DLQ retry reads


def test_a_dead_letter_too_big_for_kafka_is_cut_to_a_prefix_and_a_file(tmp_path: Path) -> None:
    raw = b"\xff" * 2_000_000
    record = dead_letter_for(RowError("parsing", "invalid UTF-8 at byte 0", raw, 2))
    assert len(json.dumps(record)) > DLQ_RECORD_LIMIT
    small = truncate_dead_letter(record, tmp_path)
    assert len(json.dumps(small)) < 10_000
    assert original_payload(small).encode("utf-8", "surrogateescape") == raw


_RSS_PROBE = textwrap.dedent(
    """
    import sys
    from include.ingest.preflight import FileCheckError, check_file
    from include.ingest.avazu_reader import read_avazu
    try:
        check_file(sys.argv[1])
        n = sum(1 for _ in read_avazu(sys.argv[1]))
    except FileCheckError as exc:
        n = str(exc)[:60]
    # VmHWM belongs to this program's memory map (ru_maxrss can carry the forking parent's peak).
    hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    print(n, int(hwm.split()[1]) // 1024)
    """
)


def _peak_rss_mb(path: Path) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, str(path)], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    return " ".join(out[:-1]), int(out[-1])


@pytest.mark.parametrize("kind", ["200 MB line", "gzip bomb"])
def test_memory_stays_bounded(tmp_path: Path, rows: list[bytes], kind: str) -> None:
    path = tmp_path / "big"
    chunk = b"7" * (1 << 20)
    if kind == "200 MB line":
        with open(path, "wb") as out:
            out.write(AVAZU_HEADER + b"\n" + rows[0] + b"\n")
            for _ in range(200):
                out.write(chunk)
            out.write(b"\n" + rows[1] + b"\n")
    else:  # ~0.5 MB on disk, 150 MB of one newline-free line after a good header and a row
        with gzip.open(path, "wb", compresslevel=1) as out:
            out.write(AVAZU_HEADER + b"\n" + rows[0] + b"\n")
            for _ in range(150):
                out.write(chunk)
    rows_read, peak = _peak_rss_mb(path)
    assert rows_read == ("3" if kind == "200 MB line" else "2")
    # Below the size of the line itself: it was never held whole (checked twice: preflight and read).
    assert peak < 140, f"{kind}: peak RSS {peak} MB"


# -- 4. exact bytes, repairable ------------------------------------------------------------------


def test_a_non_utf8_row_is_repaired_from_its_exact_bytes(rows: list[bytes], validator, model) -> None:
    clean = rows[3]
    f = clean.split(b",")
    f[5] = f[5] + b"\xa0"  # Latin-1 no-break space: not UTF-8
    raw = b",".join(f)
    error = parse_row_error(raw)
    record = json.loads(json.dumps(dead_letter_for(error)))  # through Kafka as JSON
    assert "\ufffd" in record["raw_payload"] and record["raw_payload_b64"]
    payload = original_payload(record)
    assert payload.encode("utf-8", "surrogateescape") == raw
    repaired = attempt(payload, validator, model, event_time_ms=1_413_849_600_000)
    expected = attempt(clean.decode(), validator, model, event_time_ms=1_413_849_600_000)
    assert isinstance(repaired, Repaired) and isinstance(expected, Repaired)
    assert repaired.value == expected.value and repaired.repairs == ["trim_nbsp:site_id"]
    # An invalid byte inside a value cannot be guessed at: still bad, never U+FFFD-published.
    f[5] = b"1f\xe9e01fe"
    still = attempt(original_payload(dead_letter_for(parse_row_error(b",".join(f)))), validator, model)
    assert isinstance(still, StillBad) and "UTF-8" in still.message


def parse_row_error(raw: bytes) -> RowError:
    from include.ingest.avazu_reader import parse_row

    error = parse_row(5, raw)
    assert isinstance(error, RowError)
    return error


def test_storage_bounds_are_the_producers_and_the_registered_schema_is_unchanged(
    tmp_path: Path, rows: list[bytes], validator, model
) -> None:
    schema = load_schema()
    bounded = with_storage_bounds(schema)
    assert "maximum" not in schema["properties"]["C14"]  # a new maximum would be incompatible in the registry
    assert load_schema() == schema  # not mutated
    assert bounded["properties"]["C14"]["maximum"] == 2**31 - 1
    assert bounded["properties"]["C20"]["minimum"] == -1  # the schema's own, tighter bound is kept
    cases = [(16, b"2147483647", True), (16, b"2147483648", False), (3, b"-2147483649", False)]
    lines = [with_field(rows[k], index, value) for k, (index, value, _) in enumerate(cases)]
    items = read_all(write(tmp_path / "bounds.csv", lines))
    assert [isinstance(encode_row(i, validator, model), tuple) for i in items] == [ok for *_, ok in cases]


def test_a_dead_letter_over_a_lowered_client_limit_still_goes(
    tmp_path: Path, rows: list[bytes], model, monkeypatch
) -> None:
    monkeypatch.setenv("DLQ_PAYLOAD_DIR", str(tmp_path / "payloads"))
    conf = {"bootstrap.servers": "127.0.0.1:1", "message.max.bytes": 5000, "log_level": 0}  # never reached
    sender = Sender(conf, "raw", "dlq", 1, load_schema(), model, None, "f.csv")
    sender._dlq_limit = DLQ_RECORD_LIMIT  # as if the client's limit were unknown: produce() refuses
    queued: list[bytes] = []
    produce = sender._produce

    def spy(topic: str, value: bytes, *args, **kwargs) -> None:
        produce(topic, value, *args, **kwargs)  # raises MSG_SIZE_TOO_LARGE for the first, big one
        queued.append(value)

    monkeypatch.setattr(sender, "_produce", spy)
    raw = rows[0] + b"," + b"7" * 20_000
    sender.dead_letter(RowError("parsing", "25 columns, expected 24", raw, 2))
    assert len(queued) == 1 and len(queued[0]) < 5000  # queued, not raised
    assert json.loads(queued[0])["raw_ref"]["bytes"] == len(raw)
    assert (tmp_path / "payloads" / hashlib.sha256(raw).hexdigest()).read_bytes() == raw
    sender.producer.purge()


def test_file_params_are_confined_to_the_input_roots(tmp_path: Path) -> None:
    root = tmp_path / "raw"
    root.mkdir()
    good = root / "a.csv"
    good.write_bytes(b"x")
    (root / "out").symlink_to("/etc/passwd")
    (root / "in").symlink_to(good)
    roots = [root.resolve()]
    assert resolve_input_file(str(good), roots) == good.resolve()
    assert resolve_input_file(str(root / "in"), roots) == good.resolve()
    refused = [
        "/proc/self/environ",
        "../../etc/passwd",
        str(root / "../../etc/passwd"),
        str(root / "out"),
        "",
    ]
    for value in [*refused, "a\x00b"]:
        with pytest.raises(FileCheckError, match="outside the input directories|not a file name") as raised:
            resolve_input_file(value, roots)
        assert "\n" not in str(raised.value) and "root:" not in str(raised.value)
    # The default roots: the shipped samples are in, the worker's environment is not.
    assert resolve_input_file("samples/avazu_sample_100.csv") == REPO / "samples" / "avazu_sample_100.csv"
    with pytest.raises(FileCheckError, match="INGEST_FILE_ROOTS"):
        resolve_input_file("/proc/self/environ")
