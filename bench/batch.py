"""Batch benchmark (``make bench`` section ``batch``): one generated Avazu-sized day through the batch.

Measures, on one generated 4M-row day (seeded, a day no test uses: 2012-06-01), the daily ETL's
stages on the **scheduled path** (``source=archive``: the streaming job's Parquet archive):

- the archive is written first, outside the clock, as the streaming job leaves it at live pace:
  the archive contract's typed Parquet (include/archive.py), one file per hour and checkpoint
  (``--files-per-hour``, default 360: a 10 s checkpoint interval), each hour marked complete,
  then every hour but the last compacted as ``dag_archive_compaction`` leaves them by the time the
  ETL starts (``compaction_s``, that DAG's work spread over the day, is reported apart);
- ``extract_s``: archive -> the day's events Parquet (one row per event id, the day's events only);
- ``validate_s``: the GX suite ``ad_events_daily`` (pandas frame + GX, import included), its result
  kept as a Data Docs page as the DAG does (in a fresh docs folder of the bench's own);
- ``load_s``: the one-transaction partition swap with COPY;
- ``dbt_s``: ``dbt build --vars {day: D}`` (every model and test, one dbt process: what Cosmos runs
  split per model, without Airflow's scheduling);
- ``pipeline_s`` = extract + validate + load + dbt: the docs/design.md "Targets" goal (<= 60 s);
- ``baseline_copy_s``: a plain PostgreSQL ``COPY`` of the same rows (the day's decompressed CSV, all
  text columns, no validation, no economics) into a temporary table, measured in the same run;
- ``ratio`` = pipeline_s / baseline_copy_s;
- ``cpu_us_per_row``: per stage (and the baseline), the CPU microseconds per row each process spent
  (bench/cpu.py): where the two cores went.

``--source avazu`` measures the backfill path instead (the Avazu gzip read and priced by the
columnar extract; no archive is written).

Run: ``local_stack/bin/run.sh .venvs/airflow/bin/python -m bench.batch [--rows N]``. The result is
merged into ``bench/results.json`` under the key ``batch``. The bench day is removed afterwards.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.cpu import CpuMeter  # noqa: E402
from include import config  # noqa: E402

BENCH_DAY = date(2012, 6, 1)
RESULTS = REPO / "bench" / "results.json"


def _builder_conn() -> Any:
    import psycopg

    conn = psycopg.connect(config.pg_dsn("PG_DBT"))
    return conn


def _cleanup(day: date) -> None:
    from include.batch.days import partition_name

    with _builder_conn() as conn:
        conn.autocommit = True
        conn.execute(f"SET ROLE {config.get('DBT_ROLE')}")
        conn.execute(f"DROP TABLE IF EXISTS analytics.{partition_name(day)}")
        conn.execute("DELETE FROM analytics.ad_events_loads WHERE event_day = %s", (day,))
        tables = conn.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'analytics' "
            "AND column_name = 'event_day' AND table_name NOT LIKE 'ad_events%%' "
            "AND table_name IN (SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'analytics' AND table_type = 'BASE TABLE')"
        ).fetchall()
        for (table,) in tables:
            conn.execute(f"DELETE FROM analytics.{table} WHERE event_day = %s", (day,))


def _dbt_build(day: date) -> None:
    cfg = config.resolve()
    env = {**os.environ, **cfg, "DBT_PROFILES_DIR": cfg["DBT_PROJECT_DIR"]}
    with tempfile.TemporaryDirectory(prefix="bench_dbt_") as target:
        cmd = [
            cfg["DBT_EXECUTABLE"],
            "build",
            "--target-path",
            target,
            "--vars",
            json.dumps({"day": str(day)}),
        ]
        done = subprocess.run(cmd, cwd=cfg["DBT_PROJECT_DIR"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"dbt build failed:\n{done.stdout[-3000:]}")


def _baseline_copy(path: Path) -> float:
    """Plain COPY of the same rows (CSV text, no typing or checks) into a temporary table."""
    cols = ", ".join(f"c{i} text" for i in range(24))
    started = time.monotonic()
    with _builder_conn() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TEMP TABLE baseline ({cols})")
        with cur.copy("COPY baseline FROM STDIN (FORMAT csv, HEADER true)") as copy, gzip.open(path) as fh:
            while block := fh.read(1 << 20):
                copy.write(block)
        conn.rollback()
    return time.monotonic() - started


def write_archive(events: Path, root: Path, day: date, files_per_hour: int) -> int:
    """The extract's events Parquet written back as the streaming job's archive of ``day``.

    Types and names follow the contract (:data:`include.archive.COLUMNS`); each hour's events, in
    event-time order, are cut into ``files_per_hour`` consecutive files as successive checkpoints
    would, and the hour gets its completion marker. Returns the number of data files written.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from include import archive
    from include.batch.days import day_bounds_ms

    types = {"STRING": pa.string(), "BIGINT": pa.int64(), "INT": pa.int32(),
             "DECIMAL(18, 6)": pa.decimal128(18, 6)}  # fmt: skip
    schema = pa.schema([(c.name, types[c.flink_type]) for c in archive.COLUMNS])
    table = pq.read_table(events).sort_by("event_time")
    millis = pc.cast(pc.cast(table["event_time"], pa.timestamp("ms")), pa.int64())
    renamed = {f"c{n}": f"C{n}" for n in (1, *range(14, 22))}
    columns = {renamed.get(name, name): table[name] for name in table.column_names if name != "event_day"}
    columns["event_time"] = millis
    archived = pa.table(
        {c.name: pc.cast(columns[c.name], schema.field(c.name).type) for c in archive.COLUMNS}
    )
    hours = pc.divide(pc.subtract(millis, day_bounds_ms(day)[0]), archive.HOUR_MS).to_numpy()
    written = 0
    for hour in range(archive.HOURS_PER_DAY):
        directory = archive.hour_dir(root, day, hour)
        directory.mkdir(parents=True, exist_ok=True)
        rows = archived.filter(pa.array(hours == hour))
        step = max(1, -(-rows.num_rows // files_per_hour))
        for part, offset in enumerate(range(0, rows.num_rows, step)):
            pq.write_table(rows.slice(offset, step), directory / f"part-bench-0-{part}", compression="zstd")
            written += 1
        (directory / archive.HOUR_COMPLETE_MARKER).touch()
    return written


def _compact_as_scheduled(root: Path) -> float:
    """Compact every hour but the last, as the hourly dag_archive_compaction has by the time the
    day's ETL starts (the last hour closes minutes before; its run may not have come yet).
    Returns the compaction's seconds (the DAG's work, spread over the day: not in pipeline_s)."""
    from include.archive_compaction import compact_hour

    started = time.monotonic()
    for hour in range(23):
        compact_hour(root, BENCH_DAY, hour)
    return time.monotonic() - started


def _files_read(root: Path) -> int:
    from include import archive

    return len(archive.committed_files(root, BENCH_DAY))


def run(rows: int, source: str = "archive", files_per_hour: int = 360) -> dict[str, Any]:
    from include.batch.extract import extract_day
    from include.batch.load import connect, load_day
    from include.batch.validate import validate_parquet
    from include.ingest.generator import main as generate

    work = Path(tempfile.mkdtemp(prefix="bench_batch_", dir=config.data_dir()))
    try:
        src = work / "day.csv.gz"
        start_hour = BENCH_DAY.strftime("%y%m%d") + "00"
        generate(["--rows", str(rows), "--start-hour", start_hour, "--hours", "24", "--seed", "42",
                  "--out", str(src), "--no-progress"])  # fmt: skip
        _cleanup(BENCH_DAY)
        archive_files, compaction_s = 0, 0.0
        if source == "archive":
            priced = extract_day(BENCH_DAY, "avazu", work / "priced", src)
            archive_files = write_archive(
                Path(priced.parquet_path), work / "archive", BENCH_DAY, files_per_hour
            )
            shutil.rmtree(work / "priced")
            compaction_s = _compact_as_scheduled(work / "archive")
        meter, cpu = CpuMeter(), {}
        t0 = time.monotonic()
        extracted = extract_day(BENCH_DAY, source, work, src, archive_root=work / "archive")
        t1 = time.monotonic()
        cpu["extract"] = meter.split()
        validate_parquet(extracted.parquet_path, BENCH_DAY, docs_root=work / "docs")
        t2 = time.monotonic()
        cpu["validate"] = meter.split()
        with connect(config.pg_dsn("PG_DBT")) as conn:
            load_day(conn, BENCH_DAY, extracted.parquet_path, source=source, source_uri=extracted.source_uri,
                     run_id="bench", role=config.get("DBT_ROLE"))  # fmt: skip
        t3 = time.monotonic()
        cpu["load"] = meter.split()
        _dbt_build(BENCH_DAY)
        t4 = time.monotonic()
        cpu["dbt"] = meter.split()
        baseline = _baseline_copy(src)
        cpu["baseline_copy"] = meter.split()
        pipeline = t4 - t0
        return {
            "rows": extracted.rows,
            "extract_path": extracted.path_used,
            "archive_files_written": archive_files,
            "archive_files_read": _files_read(work / "archive") if source == "archive" else 0,
            "compaction_s": round(compaction_s, 2),
            "extract_s": round(t1 - t0, 2),
            "validate_s": round(t2 - t1, 2),
            "load_s": round(t3 - t2, 2),
            "dbt_s": round(t4 - t3, 2),
            "pipeline_s": round(pipeline, 2),
            "target_s": 60,
            "baseline_copy_s": round(baseline, 2),
            "ratio": round(pipeline / baseline, 2),
            "cores": os.cpu_count(),
            # Per stage, each process's CPU µs per row: "bench" is the stage's own work (dbt is its
            # child), "postgres" the server's side of COPY, the dbt models and their tests.
            "cpu_us_per_row": {
                stage: CpuMeter.per_event_us(spent, extracted.rows) for stage, spent in cpu.items()
            },
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
        _cleanup(BENCH_DAY)


def merge_result(result: dict[str, Any], path: Path = RESULTS) -> None:
    """Merge ``{"batch": result}`` into bench/results.json, keeping the other sections."""
    current = json.loads(path.read_text()) if path.exists() else {}
    current["batch"] = result
    path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000, help="rows of the day (default 4,000,000)")
    parser.add_argument("--source", choices=("archive", "avazu"), default="archive",
                        help="archive: the scheduled path (default); avazu: the backfill path")  # fmt: skip
    parser.add_argument("--files-per-hour", type=int, default=360,
                        help="archive files per hour, as checkpoints cut them (default 360: every 10 s)")  # fmt: skip
    args = parser.parse_args(argv)
    result = run(args.rows, args.source, args.files_per_hour)
    merge_result(result)
    print(json.dumps({"batch": result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
