"""The synthetic Avazu generator: exact, deterministic, realistic enough, and readable by the reader."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

from include.ingest.avazu_reader import AVAZU_HEADER, read_avazu
from include.ingest.generator import GenerationResult, generate, hourly_counts, iter_blocks, main
from include.ingest.records import AvazuRow, RowError


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first = b"".join(b for b, _ in iter_blocks(20_000, "14102100", 3, seed=11))
    assert first == b"".join(b for b, _ in iter_blocks(20_000, "14102100", 3, seed=11))
    assert first != b"".join(b for b, _ in iter_blocks(20_000, "14102100", 3, seed=12))


def test_gzip_output_decompresses_to_the_plain_file(tmp_path: Path) -> None:
    plain, packed = tmp_path / "a.csv", tmp_path / "a.csv.gz"
    generate(plain, 70_000, "14102100", 2, seed=5, progress=False)
    generate(packed, 70_000, "14102100", 2, seed=5, progress=False)
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("rows", [0, 1, 23, 4_097, 65_537])
def test_row_count_is_exact(tmp_path: Path, rows: int) -> None:
    path = tmp_path / "n.csv"
    result = generate(path, rows, "14102100", 24, seed=1, progress=False)
    lines = path.read_bytes().split(b"\n")
    assert lines[0] == AVAZU_HEADER and lines[-1] == b""
    assert len(lines) - 2 == rows == result.rows == sum(n for _, n in result.hours)


def test_hourly_counts_follow_a_daily_curve() -> None:
    counts = hourly_counts(1_000_000, "14102100", 48)
    assert sum(n for _, n in counts) == 1_000_000
    assert counts[0][0] == "14102100" and counts[-1][0] == "14102223"
    by_hour = {h: n for h, n in counts[:24]}
    assert by_hour["14102113"] > 2 * by_hour["14102121"], "midday peak, evening trough"


def test_generated_file_is_clean_sorted_and_avazu_shaped(
    generated_200k: tuple[Path, GenerationResult],
) -> None:
    path, result = generated_200k
    rows = list(read_avazu(path))
    assert len(rows) == 200_000 and all(isinstance(r, AvazuRow) for r in rows)
    values = [r.values for r in rows]
    hours = [v[2] for v in values]
    assert hours == sorted(hours) and Counter(hours) == {h: n for h, n in result.hours if n}
    ids = [v[0] for v in values]
    assert len(set(ids)) == len(ids) and all(0 <= int(i) < 2**64 for i in ids[:1000])
    assert sum(len(i) >= 19 for i in ids) > 0.9 * len(ids), "ids span the unsigned 64-bit range"

    click_rate = sum(v[1] for v in values) / len(values)
    assert 0.16 <= click_rate <= 0.18
    share = lambda col, value: sum(v[col] == value for v in values) / len(values)  # noqa: E731
    assert share(14, 1) > 0.85, "device_type mostly 1"
    assert share(4, 0) + share(4, 1) > 0.99, "banner_pos mostly 0/1"
    assert 0.6 < share(8, "ecad2386") < 0.7, "about two thirds is site traffic"
    assert 0.75 < share(11, "a99f214a") < 0.9, "device_id mostly the placeholder"
    assert 0.4 < share(22, -1) < 0.55, "C20 unknown about half the time"
    campaigns = Counter(v[19] for v in values)
    assert 150 < len(campaigns) <= 400
    assert campaigns.most_common(1)[0][1] / len(values) > 0.05, "a Zipf-like head: one campaign dominates"
    top_site_categories = [c for c, _ in Counter(v[7] for v in values).most_common(3)]
    assert set(top_site_categories) <= {"50e219e0", "f028772b", "28905ebd", "3e814130"}


def test_bad_rows_of_each_kind_are_injected(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv.gz"
    result = generate(path, 10_000, "14102100", 4, seed=2, bad_rows=2, progress=False)
    assert {k: len(v) for k, v in result.bad_lines.items()} == {"columns": 2, "utf8": 2, "number": 2}
    items = list(read_avazu(path))
    assert len(items) == 10_000
    errors = {e.line_no: e for e in items if isinstance(e, RowError)}
    assert sorted(errors) == sorted(n for lines in result.bad_lines.values() for n in lines)
    messages = {
        "columns": "expected 24 columns, found 23",
        "utf8": "invalid UTF-8",
        "number": "column C15: '3x0' is not an integer",
    }
    for kind, lines in result.bad_lines.items():
        for line_no in lines:
            assert messages[kind] in errors[line_no].message
            assert errors[line_no].event_time is not None, "bad rows keep their hour and time slot"


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.csv"
    argv = ["--rows", "500", "--start-hour", "14102500", "--hours", "2", "--seed", "9", "--out", str(out)]
    assert main([*argv, "--bad-rows", "1"]) == 0
    assert "wrote 500 rows over 2 hours" in capsys.readouterr().err
    assert len(out.read_bytes().splitlines()) == 501
    with pytest.raises(SystemExit):
        main([*argv, "--bad-rows", "200"])
