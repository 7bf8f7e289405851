"""The full run's out-of-core SQL oracle (bench/fullrun_oracle.py) equals the per-row oracle.py.

Pure: generated files in a temporary directory, DuckDB and Arrow, no service. The files carry rows
the replay dead-letters but Arrow can split (a bad click, a non-numeric C15, a non-numeric id):
they keep their slot in their hour's event times and produce no event, in both oracles.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bench.fullrun_oracle import LoadSummary, Oracle, OracleError, _ratio, as_window_rows
from include.flink_jobs.ad_window_metrics import oracle as reference
from include.ingest.generator import generate


def _corrupt(path: Path, line_no: int, column: int, value: str) -> None:
    lines = path.read_text().splitlines()
    fields = lines[line_no].split(",")
    fields[column] = value
    lines[line_no] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def avazu_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("oracle") / "gen.csv"
    generate(path, 6_000, "14102122", 3, seed=7, progress=False)  # crosses midnight: two days
    _corrupt(path, 10, 1, "2")  # click
    _corrupt(path, 2_500, 17, "3x0")  # C15
    _corrupt(path, 5_999, 0, "12ab")  # id, in the last hour
    return path


@pytest.fixture(scope="module")
def oracle_and_summary(
    avazu_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Oracle, LoadSummary]]:
    work = tmp_path_factory.mktemp("duckdb")
    with Oracle(work / "o.duckdb", work / "tmp", memory_limit="256MB", threads=1) as oracle:
        summary = oracle.load(avazu_file)
        oracle.build_windows()
        yield oracle, summary


@pytest.fixture
def loaded(oracle_and_summary: tuple[Oracle, LoadSummary]) -> Oracle:
    return oracle_and_summary[0]


def test_windows_equal_the_per_row_oracle(avazu_file: Path, loaded: Oracle) -> None:
    expected = reference.compute_file(avazu_file)
    actual = as_window_rows(loaded.window_rows())
    assert len(expected) > 1_000
    assert actual.keys() == expected.keys()
    different = [k for k in expected if actual[k] != expected[k]]
    assert not different, [(actual[k], expected[k]) for k in different[:3]]


def test_events_equal_the_replays_events_row_by_row(
    avazu_file: Path, oracle_and_summary: tuple[Oracle, LoadSummary]
) -> None:
    loaded, summary = oracle_and_summary
    expected = {e["event_id"]: e for e in reference.events_from_avazu(avazu_file)}
    assert (summary.rows, summary.valid_rows) == (6_000, 5_997) == (6_000, len(expected))
    assert [h for h, _ in summary.hours] == ["14102122", "14102123", "14102200"]
    assert [str(d) for d in summary.days] == ["2014-10-21", "2014-10-22"]
    rows = loaded.con.execute(
        "SELECT event_id, event_time_ms, click, conversion, cost_micros, revenue_micros, campaign_id, "
        "creative_id, device_type, banner_pos, site_category, app_category, app_id, device_model, "
        "device_conn_type FROM events"
    ).fetchall()
    assert len(rows) == len(expected)
    conversions = 0
    for eid, t, click, conv, cost, revenue, campaign, creative, dt, bp, sc, ac, app, model, conn in rows:
        e = expected[eid]
        assert (t, click, conv) == (e["event_time"], e["click"], e["conversion"]), eid
        assert (cost, revenue) == (reference.to_micros(e["cost"]), reference.to_micros(e["revenue"])), eid
        assert (campaign, creative, dt, bp) == (
            e["campaign_id"],
            e["creative_id"],
            e["device_type"],
            e["banner_pos"],
        )
        assert (sc, ac, app, model, conn) == (
            e["site_category"], e["app_category"], e["app_id"], e["device_model"], e["device_conn_type"],
        )  # fmt: skip
        conversions += conv
    assert conversions > 0  # the revenue path is exercised
    assert (
        loaded.events_until(loaded.con.execute("SELECT max(event_time_ms) FROM events").fetchone()[0])
        == 5_997
    )


def test_day_view_splits_at_midnight_with_decimal_money(
    oracle_and_summary: tuple[Oracle, LoadSummary],
) -> None:
    loaded, summary = oracle_and_summary
    view = loaded.day_view(date(2014, 10, 22))
    n, cost_type = loaded.con.execute(f"SELECT count(*), any_value(typeof(cost)) FROM {view}").fetchone()
    hours = dict(summary.hours)
    assert n == hours["14102200"] - 1  # the bad id is in that hour
    assert cost_type == "DECIMAL(18,6)"


def test_comparison_with_an_export_finds_every_kind_of_difference(loaded: Oracle, tmp_path: Path) -> None:
    rows = list(loaded.window_rows())
    path = tmp_path / "pg.csv"

    def write(rows_out: list[tuple]) -> Path:
        # The export's CSV as PostgreSQL writes it: NULL as nothing, '' quoted.
        with path.open("w", newline="") as fh:
            for row in rows_out:
                fh.write(",".join('""' if v == "" else "" if v is None else str(v) for v in row) + "\n")
        return path

    same = loaded.compare_windows(write(rows))
    assert same.equal and same.expected == same.actual == len(rows)

    changed = list(rows)
    changed[0] = (*changed[0][:8], changed[0][8] + 1, *changed[0][9:])  # cost one micro off
    extra = (60, 0, 60_000, "all", "", 1, 0, 0, 1, 0, 0, None, None, 0)
    result = loaded.compare_windows(write([*changed[1:-1], changed[0], extra]))
    assert (result.missing, result.extra, result.different) == (1, 1, 1)
    assert not result.equal and len(result.examples) == 3
    assert any("cost table" in e for e in result.examples)


def test_ratio_is_half_up_and_null_on_zero() -> None:
    import duckdb

    con = duckdb.connect()
    got = con.execute(
        f"SELECT {_ratio('a', 'b')} FROM (VALUES (1, 2), (1, 3), (5, 2), (0, 7), (3, 0)) t(a, b)"
    ).fetchall()
    assert [r[0] for r in got] == [1, 0, 3, 0, None]


def test_files_the_oracle_cannot_compute_are_refused(avazu_file: Path, tmp_path: Path) -> None:
    lines = avazu_file.read_text().splitlines()
    unsorted = tmp_path / "unsorted.csv"
    unsorted.write_text("\n".join([lines[0], lines[-1], *lines[1:-1]]) + "\n")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("\n".join([lines[0], lines[1].rsplit(",", 1)[0], *lines[2:]]) + "\n")
    for path, message in ((unsorted, "not sorted by hour"), (ragged, "not strictly Avazu-shaped")):
        oracle = Oracle(tmp_path / f"{path.stem}.duckdb", tmp_path / "tmp", memory_limit="256MB")
        with oracle, pytest.raises(OracleError, match=message):
            oracle.load(path)
