"""The columnar fast path gives exactly the reference (per-row, stream) path's events."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include import archive
from include.batch.extract import PARQUET_SCHEMA, ExtractError, extract_day
from include.ingest.generator import main as generate

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "samples" / "avazu_sample_100.csv"  # the real Avazu rows, shipped with the repo
DAY = date(2014, 10, 21)


def _gen(path: Path, rows: int, bad_rows: int = 0) -> Path:
    args = ["--rows", str(rows), "--start-hour", "14102020", "--hours", "30", "--seed", "4"]
    args += ["--out", str(path), "--no-progress"]
    if bad_rows:
        args += ["--bad-rows", str(bad_rows)]
    assert generate(args) == 0
    return path


@pytest.mark.parametrize("gz", [pytest.param(False, id="csv"), pytest.param(True, id="gzip")])
def test_fast_path_equals_reference_path(tmp_path: Path, gz: bool):
    src = _gen(tmp_path / ("in.csv.gz" if gz else "in.csv"), 12_000)
    fast = extract_day(DAY, "avazu", tmp_path / "fast", src)
    ref = extract_day(DAY, "avazu", tmp_path / "ref", src, force_reference=True)
    assert (fast.path_used, ref.path_used) == ("columnar", "reference")
    a, b = pq.read_table(fast.parquet_path), pq.read_table(ref.parquet_path)
    assert a.schema == b.schema == PARQUET_SCHEMA
    assert 0 < a.num_rows < 12_000  # the file spans 30 hours: only day D's are kept
    assert a.equals(b)
    assert set(a["hour"].to_pylist()) == {f"141021{h:02d}" for h in range(24)}


def test_real_sample_rows_match(tmp_path: Path):
    fast = extract_day(DAY, "avazu", tmp_path / "fast", SAMPLE)
    ref = extract_day(DAY, "avazu", tmp_path / "ref", SAMPLE, force_reference=True)
    assert fast.rows == ref.rows > 0
    assert pq.read_table(fast.parquet_path).equals(pq.read_table(ref.parquet_path))


def test_bad_rows_fall_back_to_the_reference_path_and_are_counted(tmp_path: Path):
    src = _gen(tmp_path / "bad.csv", 6_000, bad_rows=2)
    result = extract_day(DAY, "avazu", tmp_path / "out", src)
    assert result.path_used == "reference"
    assert sum(result.rejected.values()) > 0 and set(result.rejected) == {"parsing"}
    assert result.rows == pq.read_table(result.parquet_path).num_rows


def test_a_repeated_id_keeps_its_first_copy_and_is_rejected_as_duplicate(tmp_path: Path):
    src = _gen(tmp_path / "in.csv", 6_000)
    clean = extract_day(DAY, "avazu", tmp_path / "clean", src)
    lines = src.read_bytes().split(b"\n")
    day_rows = [
        i
        for i, line in enumerate(lines)
        if line.split(b",")[2:3] and line.split(b",")[2].startswith(b"141021")
    ]
    first, later = day_rows[0], day_rows[-1]
    first_id, replaced_id = lines[first].split(b",", 1)[0], lines[later].split(b",", 1)[0]
    lines[later] = first_id + b"," + lines[later].split(b",", 1)[1]
    src.write_bytes(b"\n".join(lines))

    got = extract_day(DAY, "avazu", tmp_path / "dup", src)
    assert got.path_used == "reference" and got.rejected == {"duplicate": 1}
    assert got.rejected_examples[0].startswith(f"line {later + 1}: duplicate: event id {first_id.decode()} ")
    # Every other event as before, the first copy unchanged; the overwritten row's event is gone.
    before = pq.read_table(clean.parquet_path).to_pylist()
    assert pq.read_table(got.parquet_path).to_pylist() == [
        row for row in before if row["event_id"] != replaced_id.decode()
    ]


def test_rerun_replaces_the_day_directory(tmp_path: Path):
    src = _gen(tmp_path / "in.csv", 3_000)
    first = extract_day(DAY, "avazu", tmp_path / "out", src)
    (Path(first.parquet_path).parent / "stale.parquet").write_bytes(b"x")
    second = extract_day(DAY, "avazu", tmp_path / "out", src)
    assert [p.name for p in Path(second.parquet_path).parent.iterdir()] == ["events.parquet"]


def _archive_file(rows: list[dict], path: Path) -> None:
    """Rows of the extract's output written as the archive contract's Parquet (what the job writes)."""
    types = {
        "STRING": pa.string(),
        "BIGINT": pa.int64(),
        "INT": pa.int32(),
        "DECIMAL(18, 6)": pa.decimal128(18, 6),
    }
    events = []
    for row in rows:
        event = {k: v for k, v in row.items() if k != "event_day"}
        event["event_time"] = int(row["event_time"].timestamp() * 1000)
        for n in [1, *range(14, 22)]:
            event[f"C{n}"] = event.pop(f"c{n}")
        events.append(event)
    schema = pa.schema([(c.name, types[c.flink_type]) for c in archive.COLUMNS])
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(events, schema=schema), path, compression="zstd")


def test_archive_source_reads_the_contract_once_per_event(tmp_path: Path):
    """Every event of the day once, equal to the Avazu path; a second copy of some events (a job
    restarted from scratch archives them again) is dropped and counted; other days are left out."""
    src = _gen(tmp_path / "in.csv", 3_000)
    ref = pq.read_table(extract_day(DAY, "avazu", tmp_path / "ref", src, force_reference=True).parquet_path)
    rows = ref.to_pylist()
    root = tmp_path / "archive"
    _archive_file(rows[:2_000], archive.hour_dir(root, DAY, 5) / "part-a-0-0")
    _archive_file(rows[1_500:], archive.hour_dir(root, DAY, 6) / "part-b-0-0")  # 500 twice
    (archive.hour_dir(root, DAY, 5) / ".part-a-0-1.inprogress").write_bytes(b"not parquet")
    (archive.hour_dir(root, DAY, 5) / archive.HOUR_COMPLETE_MARKER).touch()
    got = extract_day(DAY, "archive", tmp_path / "data", archive_root=root)
    table = pq.read_table(got.parquet_path)
    assert (got.rows, got.duplicates_dropped) == (ref.num_rows, 500)
    assert got.incomplete_hours == [h for h in range(24) if h != 5]
    key = [("event_time", "ascending"), ("event_id", "ascending")]
    assert table.sort_by(key).equals(ref.sort_by(key))


def test_archive_contract_paths_and_markers(tmp_path: Path):
    assert archive.root_path("file:///var/x/archive") == Path("/var/x/archive")
    assert archive.root_path("/var/x") == Path("/var/x")
    with pytest.raises(archive.ArchiveError, match="not a file:// URI"):
        archive.root_path("s3://bucket/archive")
    for hour in (0, 7, 23):
        archive.hour_dir(tmp_path, DAY, hour).mkdir(parents=True)
        (archive.hour_dir(tmp_path, DAY, hour) / archive.HOUR_COMPLETE_MARKER).touch()
    assert archive.complete_hours(tmp_path, DAY) == {0, 7, 23}
    assert archive.missing_hours(tmp_path, DAY, [0, 1, 7]) == [1]
    assert archive.hour_dir(tmp_path, DAY, 7).name == "hour_of_day=07"


def test_missing_inputs_fail_clearly(tmp_path: Path):
    with pytest.raises(ExtractError, match="needs the file param"):
        extract_day(DAY, "avazu", tmp_path)
    with pytest.raises(ExtractError, match="not found"):
        extract_day(DAY, "avazu", tmp_path, tmp_path / "nope.csv")
    with pytest.raises(ExtractError, match="no archive for 2014-10-21"):
        extract_day(DAY, "archive", tmp_path, archive_root=tmp_path / "archive")
