"""The Avazu reader and replay event times (docs/design.md "Event time"), on the real sample and on
hand-corrupted copies of it."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from fractions import Fraction
from math import floor
from pathlib import Path

import pytest

from include.ingest.avazu_reader import (
    AVAZU_COLUMNS,
    AVAZU_HEADER,
    INT_COLUMNS,
    AvazuFormatError,
    iter_lines,
    open_avazu,
    parse_row,
    read_avazu,
)
from include.ingest.event_time import event_time_ms, hour_start_ms, iter_hour_batches
from include.ingest.generator import generate
from include.ingest.records import AvazuRow, RowError, UnsortedInputError


def write(path: Path, lines: list[bytes], newline: bytes = b"\n") -> Path:
    path.write_bytes(newline.join(lines) + newline)
    return path


def spec_time(hour: str, i: int, n: int) -> int:
    """The event-time rule from first principles: datetime for the hour, exact rationals for the offset."""
    start = datetime.strptime(hour, "%y%m%d%H").replace(tzinfo=UTC)
    return int(start.timestamp()) * 1000 + floor(Fraction(i * 3_600_000, n))


def test_sample_parses_every_row_with_ids_as_text(sample_path: Path, sample_lines: list[bytes]) -> None:
    rows = list(read_avazu(sample_path))
    assert len(rows) == 100
    assert all(isinstance(r, AvazuRow) for r in rows)
    for row, line in zip(rows, sample_lines[1:], strict=True):
        assert row.raw == line
        assert row.values[0] == line.split(b",")[0].decode()
        for name, value in zip(AVAZU_COLUMNS, row.values, strict=True):
            assert isinstance(value, int if name in INT_COLUMNS else str), name
    assert [r.line_no for r in rows] == list(range(2, 102))
    assert sum(r.values[1] for r in rows) == 20
    assert max(int(r.values[0]) for r in rows) > 2**63, "an id above BIGINT survives as text"


def test_event_times_follow_spec_formula(sample_path: Path) -> None:
    rows = list(read_avazu(sample_path))
    assert [r.event_time for r in rows] == [spec_time("14102100", i, 100) for i in range(100)]
    assert rows[0].event_time == 1413849600000
    assert rows[-1].event_time < 1413849600000 + 3_600_000


def test_event_time_helpers() -> None:
    assert hour_start_ms("14102100") == 1413849600000
    assert hour_start_ms(b"14103023") == 1413849600000 + (9 * 24 + 23) * 3_600_000
    assert event_time_ms(0, 2, 3) == 2_400_000
    assert event_time_ms(0, 1, 7) == 514_285
    for bad in ("1410210", "14103124", "14130100", "1410212x"):
        with pytest.raises(ValueError):
            hour_start_ms(bad)


def test_header_is_validated(tmp_path: Path, sample_lines: list[bytes]) -> None:
    wrong = sample_lines[0].replace(b"banner_pos", b"bannerpos")
    with pytest.raises(AvazuFormatError, match=r"column 5 is not 'banner_pos'") as raised:
        list(read_avazu(write(tmp_path / "a.csv", [wrong, *sample_lines[1:]])))
    assert "bannerpos" not in str(raised.value)  # the file's bytes never reach an error message
    with pytest.raises(AvazuFormatError, match=r"23 columns, expected 24"):
        list(read_avazu(write(tmp_path / "b.csv", [sample_lines[0].rsplit(b",", 1)[0]])))
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(AvazuFormatError, match="empty file"):
        list(read_avazu(tmp_path / "empty.csv"))


def test_header_only_file_yields_nothing(tmp_path: Path) -> None:
    assert list(read_avazu(write(tmp_path / "h.csv", [AVAZU_HEADER]))) == []


def corrupted(sample_lines: list[bytes]) -> tuple[list[bytes], dict[int, tuple[bytes, str]]]:
    """The sample with one row of each parsing kind; returns lines and line_no -> (raw, message part)."""
    lines = list(sample_lines)
    bad = {
        5: lines[4].rsplit(b",", 1)[0],
        10: lines[9].replace(b",a99f214a,", b",a99f\xff\xfe4a,", 1),
        20: b",".join([*lines[19].split(b",")[:17], b"3x0", *lines[19].split(b",")[18:]]),
        30: b"",
    }
    for line_no, raw in bad.items():
        lines[line_no - 1] = raw
    expected = {
        5: (bad[5], "expected 24 columns, found 23"),
        10: (bad[10], "invalid UTF-8"),
        20: (bad[20], "column C15: '3x0' is not an integer"),
        30: (b"", "expected 24 columns, found 1"),
    }
    return lines, expected


def test_each_parsing_kind_becomes_an_error_with_its_raw_bytes(
    tmp_path: Path, sample_lines: list[bytes]
) -> None:
    lines, expected = corrupted(sample_lines)
    items = list(read_avazu(write(tmp_path / "bad.csv", lines)))
    assert len(items) == 100, "bad rows are yielded, never skipped"
    errors = {e.line_no: e for e in items if isinstance(e, RowError)}
    assert sorted(errors) == sorted(expected)
    for line_no, (raw, message) in expected.items():
        assert errors[line_no].error_type == "parsing"
        assert errors[line_no].raw == raw
        assert message in errors[line_no].message
    # A bad row keeps its slot: every row's time is the same as in the clean file.
    assert [i.event_time for i in items] == [spec_time("14102100", i, 100) for i in range(100)]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (1, b" 1", "column click"),
        (3, b"+1005", "column C1"),
        (16, b"15_706", "column C14"),
        (22, b"--1", "column C20"),
        (0, b"18446744073709551616", "not an unsigned 64-bit integer"),
        (0, b"12a", "not an unsigned 64-bit integer"),
        (2, b"1410210", "column hour"),
        (16, "١٢".encode(), "column C14"),
    ],
)
def test_numbers_are_parsed_strictly(
    sample_lines: list[bytes], field: int, value: bytes, message: str
) -> None:
    parts = sample_lines[1].split(b",")
    parts[field] = value
    result = parse_row(2, b",".join(parts))
    assert isinstance(result, RowError)
    assert message in result.message


def test_non_hex_text_columns_are_left_to_the_schema(sample_lines: list[bytes]) -> None:
    raw = sample_lines[1].replace(b"1fbe01fe", b"1FBE01FE")
    row = parse_row(2, raw)
    assert isinstance(row, AvazuRow)
    assert row.values[5] == "1FBE01FE"
    assert row.values[22] == -1


def test_gzip_and_plain_give_identical_output(tmp_path: Path, sample_path: Path) -> None:
    data = sample_path.read_bytes()
    gz_named_csv = tmp_path / "sample.csv"
    gz_named_csv.write_bytes(gzip.compress(data, mtime=0))
    plain_named_gz = tmp_path / "sample.csv.gz"
    plain_named_gz.write_bytes(data)
    plain = list(read_avazu(sample_path))
    assert list(read_avazu(gz_named_csv)) == plain, "gzip is detected by magic bytes, not by name"
    assert list(read_avazu(plain_named_gz)) == plain


def test_crlf_and_missing_final_newline(tmp_path: Path, sample_lines: list[bytes], sample_path: Path) -> None:
    expected = list(read_avazu(sample_path))
    crlf = write(tmp_path / "crlf.csv", sample_lines, b"\r\n")
    assert list(read_avazu(crlf)) == expected
    no_eol = tmp_path / "noeol.csv"
    no_eol.write_bytes(b"\n".join(sample_lines))
    assert list(read_avazu(no_eol)) == expected


def test_utf8_bom_header_is_accepted(tmp_path: Path, sample_lines: list[bytes]) -> None:
    path = write(tmp_path / "bom.csv", [b"\xef\xbb\xbf" + sample_lines[0], *sample_lines[1:]])
    assert len(list(read_avazu(path))) == 100


@pytest.fixture(scope="module")
def five_hours(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("hours") / "five.csv.gz"
    result = generate(path, 3_000, "14102122", 5, seed=3, progress=False)
    return path, dict(result.hours)


def test_hour_range_filter_is_inclusive(five_hours: tuple[Path, dict[str, int]]) -> None:
    path, counts = five_hours
    assert list(counts) == ["14102122", "14102123", "14102200", "14102201", "14102202"]
    items = list(read_avazu(path, "14102123", 14102201))
    assert all(isinstance(i, AvazuRow) for i in items)
    hours = [i.values[2] for i in items]
    assert sorted(set(hours)) == ["14102123", "14102200", "14102201"]
    for hour in set(hours):
        times = [i.event_time for i in items if i.values[2] == hour]
        assert times == [spec_time(hour, k, counts[hour]) for k in range(counts[hour])]
    assert len(list(read_avazu(path, hour_from="14102202"))) == counts["14102202"]
    assert len(list(read_avazu(path, hour_to="14102122"))) == counts["14102122"]
    assert list(read_avazu(path, "14102300", "14102323")) == []
    with pytest.raises(ValueError):
        list(read_avazu(path, "14102199"))


def test_unsorted_input_raises_naming_the_line(tmp_path: Path, sample_lines: list[bytes]) -> None:
    later = sample_lines[3].replace(b",14102100,", b",14102101,", 1)
    path = write(tmp_path / "unsorted.csv", [*sample_lines[:3], later, *sample_lines[4:]])
    with pytest.raises(UnsortedInputError, match="line 5: hour 14102100 comes after hour 14102101"):
        list(read_avazu(path))


def test_lines_without_a_readable_hour_join_the_neighbouring_hour() -> None:
    lines = [(2, b"garbage"), (3, b"1,0,14102100,x"), (4, b"2,1"), (5, b"3,0,14102101,y")]
    batches = list(iter_hour_batches(lines))
    assert [(b.hour, b.first_line_no, b.lines) for b in batches] == [
        (b"14102100", 2, [b"garbage", b"1,0,14102100,x", b"2,1"]),
        (b"14102101", 5, [b"3,0,14102101,y"]),
    ]
    unreadable = list(iter_hour_batches([(2, b"x"), (3, b"y")]))
    assert [(b.hour, b.first_line_no, len(b.lines)) for b in unreadable] == [(None, 2, 2)]
    skipped = list(iter_hour_batches([(2, b"x"), (3, b"1,0,14102100,a"), (4, b"2,0,14102101,b")], "14102101"))
    assert [(b.hour, b.first_line_no, b.lines) for b in skipped] == [(b"14102101", 4, [b"2,0,14102101,b"])]


def test_iter_lines_numbers_lines_from_the_header(sample_path: Path) -> None:
    with open_avazu(sample_path) as stream:
        numbered = list(iter_lines(stream))
    assert numbered[0][0] == 2 and numbered[-1][0] == 101
