"""Compaction of the archive's complete hours (real Parquet files in a temporary archive): the day
the extract reads is the same before and after, and the writers racing it lose nothing."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.batch import write_archive
from include import archive, archive_compaction
from include.archive_compaction import COMPACTED_PREFIX, compact_archive, compact_hour
from include.batch import extract
from include.batch.extract import extract_day
from include.ingest.generator import main as generate

DAY = date(2014, 10, 21)
KEY = [("event_time", "ascending"), ("event_id", "ascending")]


@pytest.fixture
def day_archive(tmp_path: Path) -> tuple[Path, Path]:
    """A day of 2,400 generated events archived as the job leaves it at live pace: 6 files an
    hour, every hour complete. Returns (archive root, the day's events as the extract read them)."""
    src = tmp_path / "day.csv"
    assert generate(["--rows", "2400", "--start-hour", "14102100", "--hours", "24", "--seed", "8",
                     "--out", str(src), "--no-progress"]) == 0  # fmt: skip
    events = Path(extract_day(DAY, "avazu", tmp_path / "priced", src).parquet_path)
    root = tmp_path / "archive"
    assert write_archive(events, root, DAY, files_per_hour=6) == 24 * 6
    return root, events


def data_files(root: Path, hour: int) -> list[str]:
    return sorted(p.name for p in archive.hour_dir(root, DAY, hour).iterdir() if archive.is_data_file(p))


def read_day(root: Path, out: Path):
    return pq.read_table(extract_day(DAY, "archive", out, archive_root=root).parquet_path).sort_by(KEY)


def test_every_complete_hour_becomes_one_file_and_the_day_reads_the_same(day_archive, tmp_path):
    root, events = day_archive
    (archive.hour_dir(root, DAY, 3) / archive.HOUR_COMPLETE_MARKER).unlink()  # hour 3 still open
    (archive.hour_dir(root, DAY, 5) / ".part-x-0-9.inprogress").write_bytes(b"being written")

    done = list(compact_archive(root))

    assert sorted(h.hour for h in done) == [h for h in range(24) if h != 3]
    assert sum(h.rows for h in done) + pq.read_table(archive.hour_dir(root, DAY, 3)).num_rows == 2400
    assert all(h.files == 6 and h.bytes_after < h.bytes_before for h in done)
    for hour in range(24):
        names = data_files(root, hour)
        assert len(names) == (6 if hour == 3 else 1)
        assert hour == 3 or names[0].startswith(COMPACTED_PREFIX)
    assert (archive.hour_dir(root, DAY, 5) / ".part-x-0-9.inprogress").exists()
    assert archive.missing_hours(root, DAY) == [3]
    compacted = pq.read_table(archive.hour_dir(root, DAY, 7) / data_files(root, 7)[0])
    assert compacted.column("event_time").to_pylist() == sorted(compacted.column("event_time").to_pylist())
    assert read_day(root, tmp_path / "after").equals(pq.read_table(events).sort_by(KEY))
    assert list(compact_archive(root)) == []  # nothing left to do: one file per complete hour


def test_a_file_added_while_compacting_stays_and_is_folded_in_next_time(day_archive, monkeypatch):
    root, _ = day_archive
    hour = archive.hour_dir(root, DAY, 9)
    late = pq.read_table(hour / data_files(root, 9)[0]).slice(0, 1)
    real_read = pq.read_table

    def read_then_commit_a_late_file(source, *args, **kwargs):
        if not (hour / "part-late-0-0").exists():
            pq.write_table(late, hour / "part-late-0-0")
        return real_read(source, *args, **kwargs)

    monkeypatch.setattr(pq, "read_table", read_then_commit_a_late_file)
    first = compact_hour(root, DAY, 9)
    monkeypatch.undo()
    assert first.files == 6 and len(data_files(root, 9)) == 2 and "part-late-0-0" in data_files(root, 9)
    second = compact_hour(root, DAY, 9)
    assert (second.files, second.rows) == (2, first.rows + 1)
    assert len(data_files(root, 9)) == 1


def test_an_hour_swapped_by_a_backfill_while_compacting_keeps_the_backfill(day_archive, monkeypatch):
    root, _ = day_archive
    hour = archive.hour_dir(root, DAY, 11)
    replaced = root / "_replaced" / "hour_11"
    backfilled = pq.read_table(hour / data_files(root, 11)[0]).slice(0, 3)
    real_read = pq.read_table

    def read_while_the_swap_happens(source, *args, **kwargs):
        if not replaced.exists():  # what include/backfill/swap.py does: rename away, rename in
            replaced.parent.mkdir(parents=True)
            os.replace(hour, replaced)
            hour.mkdir()
            pq.write_table(backfilled, hour / "part-backfill-0-0")
            (hour / archive.HOUR_COMPLETE_MARKER).touch()
        return real_read(source, *args, **kwargs)

    monkeypatch.setattr(pq, "read_table", read_while_the_swap_happens)
    done = compact_hour(root, DAY, 11)
    assert done.files == 6
    assert data_files(root, 11) == ["part-backfill-0-0"]
    assert pq.read_table(hour / "part-backfill-0-0").equals(backfilled)
    assert [p.name.startswith(COMPACTED_PREFIX) for p in replaced.iterdir() if archive.is_data_file(p)] == [
        True
    ]


def test_an_hour_with_one_file_or_gone_is_left_alone(day_archive):
    root, _ = day_archive
    assert compact_hour(root, DAY, 2, min_files=7) is None
    assert len(data_files(root, 2)) == 6
    assert compact_hour(root, date(2014, 10, 22), 0) is None


def test_the_extract_reads_the_day_again_when_a_listed_file_was_compacted_away(
    day_archive, tmp_path, monkeypatch
):
    root, events = day_archive
    stale = archive.committed_files(root, DAY)
    compact_hour(root, DAY, 4)
    listings, listing = iter([stale]), archive.committed_files
    monkeypatch.setattr(
        extract.archive, "committed_files", lambda r, d: next(listings, None) or listing(r, d)
    )
    assert read_day(root, tmp_path / "out").equals(pq.read_table(events).sort_by(KEY))


def test_days_are_found_and_stray_directories_skipped(tmp_path):
    (tmp_path / "dt=2014-10-22").mkdir()
    (tmp_path / "dt=2014-10-21").mkdir()
    (tmp_path / "dt=yesterday").mkdir()
    assert archive_compaction.archived_days(tmp_path) == [date(2014, 10, 21), date(2014, 10, 22)]


def test_an_hour_whose_files_disagree_on_columns_is_left_as_it_is(day_archive, caplog):
    root, _ = day_archive
    hour = archive.hour_dir(root, DAY, 6)
    first = hour / data_files(root, 6)[0]
    table = pq.read_table(first)
    pq.write_table(table.set_column(1, "event_time", table["event_time"].cast("string")), first)
    assert compact_hour(root, DAY, 6) is None
    assert len(data_files(root, 6)) == 6
    assert "hour 06 left as it is: its files disagree on columns" in caplog.text
