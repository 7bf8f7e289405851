"""The full run: Avazu-scale events through the whole pipeline, timed stage by stage and checked.

    local_stack/bin/run.sh .venvs/airflow/bin/python -m bench.fullrun [--rows N --days D | --file F]
    make fullrun ARGS="--rows 200000 --days 2"

A benchmark, not a test: it runs against the running stack (``make up``) and the deployed
streaming job, on days of event time nobody has used yet, and leaves what it streamed in place.
Stages (docs/fullrun.md):

1. generate: an Avazu-shaped file (include/ingest/generator.py; default 40,428,967 rows over ten
   days) starting at the first whole UTC day the job has not reached, or ``--file`` (train.gz);
2. oracle: the independent DuckDB computation of every event and window (bench/fullrun_oracle.py),
   before anything is published so it never competes with the measured stages;
3. replay: ``python -m include.ingest.replay --pace asap --json`` into the raw topic;
4. stream: until the job's watermark reached the end of the last hour and that hour's 1- and
   5-minute windows are in PostgreSQL (seconds from the replay's start);
5. etl: one Airflow backfill of dag_daily_etl over the days, from the archive;
6. checks: windows equal the oracle, marts equal an independent computation and the windows,
   DEFAULT partitions empty, every row accounted for in Kafka;
7. resources: peak memory (PSS) per component, disk and bytes per event per store.

Results go to bench/results.json under ``full`` (``full_small`` below the full row count).
Exit codes: 0 every check passed, 1 a check failed, 2 a user error (arguments, input, stack not
up), 130 interrupted.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.fullrun_chaos import Chaos, alerts_since
from bench.fullrun_progress import Progress
from bench.fullrun_resources import (
    GB,
    MemorySampler,
    disk_usage,
    estimate_disk,
    fmt_bytes,
    free_bytes,
    run_bytes,
    topic_bytes,
)
from bench.fullrun_stack import RunAborted, UserError
from include import config

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results.json"
FULL_ROWS = 40_428_967
FULL_DAYS = 10
AVAZU_FIRST_DAY = date(2014, 10, 21)
TARGETS = {"stream_events_per_s": 40_000, "etl_total_s": 600, "peak_memory_gb": 16}
GZ_BYTES_PER_ROW_MIN = 25  # the real train.gz: ~1.1 GB for 40.4M rows; a smaller guess overestimates
PLAIN_BYTES_PER_ROW_MIN = 140


def _memory_limit(text: str) -> str:
    import re

    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 2GB or 512MiB")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fullrun",
        description="Avazu-scale events through Kafka, Flink, PostgreSQL and the daily ETL, timed and checked.",
        epilog="exit codes: 0 all checks passed, 1 a check failed, 2 user error, 130 interrupted",
    )
    parser.add_argument(
        "--rows", type=int, help=f"rows to generate (default {FULL_ROWS:,} for ten days, pro rata for --days)"
    )
    parser.add_argument("--days", type=int, help=f"UTC days to spread them over (default {FULL_DAYS})")
    parser.add_argument(
        "--file", type=Path, help="an Avazu CSV or .gz to replay instead (e.g. data/raw/train.gz)"
    )
    parser.add_argument("--seed", type=int, help="generator seed (default: the first day as YYYYMMDD)")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="results file (default bench/results.json)"
    )
    parser.add_argument(
        "--oracle-memory",
        default="2GB",
        type=_memory_limit,
        help="DuckDB memory_limit of the oracle (default 2GB; it spills)",
    )
    parser.add_argument(
        "--stream-timeout", type=float, help="seconds to wait for the stream (default scales)"
    )
    parser.add_argument("--etl-timeout", type=float, help="seconds to wait for the ETL (default scales)")
    parser.add_argument("--memory-interval", type=float, default=3.0, help="seconds between memory samples")
    parser.add_argument(
        "--keep-work", action="store_true", help="keep the generated file and oracle database"
    )
    parser.add_argument(
        "--chaos",
        action="store_true",
        help="kill the TaskManager, restart Kafka and PostgreSQL, kill the Airflow scheduler, once each, "
        "at random moments (results key chaos; bench/fullrun_chaos.py)",
    )
    return parser


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _run_day(run: dict[str, Any]) -> date:
    """The day a dag_daily_etl run builds: the day before its logical date."""
    return (datetime.fromisoformat(run["logical_date"].replace("Z", "+00:00")) - timedelta(days=1)).date()


def _span(days: list[date]) -> str:
    return f"day {days[0]}" if len(days) == 1 else f"days {days[0]}..{days[-1]}"


def _fmt_ms(ms: int) -> str:
    return _utc(ms).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _rate(rows: int, seconds: float | None) -> int | None:
    return round(rows / seconds) if seconds else None


def first_hour(path: Path) -> str:
    """The hour (YYMMDDHH) of the file's first data line; UserError when it is not an Avazu file."""
    from include.ingest.avazu_reader import check_header, open_avazu

    try:
        with open_avazu(path) as stream:
            check_header(stream.readline())
            for line in stream:
                parts = line.split(b",", 3)
                if len(parts) == 4 and len(parts[2]) == 8 and parts[2].isdigit():
                    return parts[2].decode()
    except (OSError, EOFError, ValueError) as exc:
        raise UserError(f"{path}: {exc}") from None
    raise UserError(f"{path} has no data line with a readable hour")


def generate_file(path: Path, rows: int, start_hour: str, hours: int, seed: int, progress: Progress) -> None:
    """include/ingest/generator.py's rows, gzip-compressed in a second thread (as its ``generate``
    does), with this run's progress line instead of its tqdm bar."""
    from include.ingest.avazu_reader import AVAZU_HEADER
    from include.ingest.generator import iter_blocks

    tmp = path.with_name(path.name + ".partial")
    done = 0
    try:
        with open(tmp, "wb") as sink, ThreadPoolExecutor(1) as writer:
            pending: deque[Future[int]] = deque()
            batch, batch_rows = [AVAZU_HEADER + b"\n"], 0
            for data, n in iter_blocks(rows, start_hour, hours, seed):
                batch.append(data)
                batch_rows += n
                if batch_rows >= 65_536:
                    pending.append(writer.submit(sink.write, gzip.compress(b"".join(batch), 1, mtime=0)))
                    done += batch_rows
                    progress.update(done)
                    batch, batch_rows = [], 0
                    while len(pending) > 2:
                        pending.popleft().result()
            pending.append(writer.submit(sink.write, gzip.compress(b"".join(batch), 1, mtime=0)))
            for future in pending:
                future.result()
        os.replace(tmp, path)
        progress.update(rows)
    finally:
        tmp.unlink(missing_ok=True)


class FullRun:
    def __init__(self, args: argparse.Namespace, progress: Progress) -> None:
        self.args = args
        self.progress = progress
        self.cfg = config.resolve()
        self.data_dir = Path(self.cfg["DATA_DIR"])
        self.started_at = datetime.now(UTC)
        stamp = self.started_at.strftime("%Y%m%dT%H%M%SZ")
        self.work = self.data_dir / "fullrun" / stamp
        self.log_dir = self.data_dir / "fullrun" / "logs"
        self.stages: dict[str, dict[str, Any]] = {}
        self.result: dict[str, Any] = {}
        self.sampler: MemorySampler | None = None
        self.replay_proc: subprocess.Popen[bytes] | None = None
        self.backfill: Any = None
        self.airflow: Any = None
        self.oracle: Any = None
        self.chaos: Chaos | None = None
        self.offsets_before: dict[int, int] = {}
        self.topic_bytes_before = 0

    def log(self, message: str) -> None:
        self.progress.log(message)

    def stage(self, name: str, seconds: float, rows: int | None, **extra: Any) -> None:
        self.stages[name] = {"seconds": round(seconds, 2), "events_per_s": _rate(rows or 0, seconds), **extra}
        rate = self.stages[name]["events_per_s"]
        self.log(f"    {name}: {seconds:,.1f} s" + (f", {rate:,} events/s" if rate else ""))

    # -- plan ----------------------------------------------------------------------------------

    def plan(self) -> dict[str, Any]:
        """Where the run's events go in event time, checked against what the job has reached."""
        import psycopg

        from bench import fullrun_stack as stack
        from include.ingest.generator import hourly_counts

        args = self.args
        job_id = stack.running_job_id(self.cfg)
        with psycopg.connect(config.pg_dsn("PG_DASHBOARD"), autocommit=True) as conn:
            reached = stack.reached_time(self.cfg, job_id, conn)
        self.log(f"    the streaming job has reached {reached:%Y-%m-%d %H:%M:%S} UTC" if reached else
                 "    the streaming job has no event time yet (fresh stack)")  # fmt: skip
        if args.file:
            if args.rows is not None or args.days is not None:
                raise UserError("--rows and --days apply to generated input, not to --file")
            path = args.file if args.file.is_absolute() else (Path.cwd() / args.file)
            if not path.is_file():
                raise UserError(f"file not found: {args.file}")
            hour = first_hour(path)
            start = _utc(self._hour_ms(hour))
            if reached is not None and reached > start:
                raise UserError(
                    f"the streaming job already passed {start:%Y-%m-%d %H:%M} UTC, the first hour of {path.name}: "
                    "its events would all be late. The stack must be fresh for this file (make clean-data, "
                    "then make demo)"
                )
            size = path.stat().st_size
            per_row = GZ_BYTES_PER_ROW_MIN if path.name.endswith(".gz") else PLAIN_BYTES_PER_ROW_MIN
            return {"file": path, "generated": False, "rows_estimate": size // per_row, "hours_estimate": 240}
        days = FULL_DAYS if args.days is None else args.days
        # Avazu's daily volume for the days asked: --days 2 is ~8.1M rows, not ten days' worth in two.
        rows = round(FULL_ROWS * days / FULL_DAYS) if args.rows is None else args.rows
        if rows < 1 or days < 1:
            raise UserError("--rows and --days must be at least 1")
        first_day = stack.first_free_day(reached, AVAZU_FIRST_DAY)
        start_hour = first_day.strftime("%y%m%d") + "00"
        counts = hourly_counts(rows, start_hour, 24 * days)
        empty = [h for h, n in counts if n == 0]
        if empty:
            # An hour without events never completes in the archive: its day's ETL would wait for it.
            raise UserError(
                f"{rows} rows leave {len(empty)} of {24 * days} hours empty: use more rows or fewer days"
            )
        self._check_archive_free([first_day + timedelta(days=n) for n in range(days)])
        seed = args.seed if args.seed is not None else int(first_day.strftime("%Y%m%d"))
        path = self.work / f"avazu_{rows}_{start_hour}_{24 * days}h.csv.gz"
        return {"file": path, "generated": True, "rows": rows, "days": days, "first_day": first_day,
                "start_hour": start_hour, "seed": seed, "rows_estimate": rows, "hours_estimate": 24 * days}  # fmt: skip

    def _check_archive_free(self, days: list[date]) -> None:
        """The days' archive must be empty: the ETL would read another run's events with ours."""
        from include import archive

        root = archive.root_path(self.cfg["FLINK_ARCHIVE_URI"])
        taken = [d for d in days if archive.day_dir(root, d).exists()]
        if taken:
            raise UserError(
                f"the archive already holds {', '.join(map(str, taken))} ({archive.day_dir(root, taken[0])}) "
                "although the streaming job has not reached it (a job redeployed without its state?); "
                "the daily ETL would mix those events with this run's. Move that directory away, or use "
                "a fresh stack (make clean-data)"
            )

    @staticmethod
    def _hour_ms(hour: str) -> int:
        from include.ingest.event_time import hour_start_ms

        try:
            return hour_start_ms(hour)
        except ValueError as exc:
            raise UserError(str(exc)) from None

    def check_disk(self, plan: dict[str, Any]) -> dict[str, Any]:
        previous = {}
        if self.args.results.exists():
            try:
                previous = (
                    json.loads(self.args.results.read_text()).get("full_small", {}).get("estimate_inputs")
                )
            except (json.JSONDecodeError, AttributeError):
                previous = {}
        estimate = estimate_disk(plan["rows_estimate"], plan["hours_estimate"], plan["generated"], previous)
        free = free_bytes(self.data_dir)
        parts = ", ".join(f"{k} {fmt_bytes(v)}" for k, v in estimate.by_store.items() if v)
        self.log(f"    disk: this run needs ~{fmt_bytes(estimate.total)} under {self.data_dir} ({parts}; "
                 f"from {estimate.source}); {fmt_bytes(free)} free")  # fmt: skip
        if free < estimate.total:
            raise UserError(
                f"not enough free disk under {self.data_dir}: ~{fmt_bytes(estimate.total)} needed, "
                f"{fmt_bytes(free)} free (make room, or run fewer --rows)"
            )
        return {"needed_bytes": estimate.total, "free_bytes": free, "by_store": estimate.by_store,
                "source": estimate.source}  # fmt: skip

    # -- stages --------------------------------------------------------------------------------

    def generate(self, plan: dict[str, Any]) -> None:
        path: Path = plan["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        self.log(f"==> generate: {plan['rows']:,} rows over {plan['days']} day(s) from "
                 f"{plan['first_day']} 00:00 UTC (seed {plan['seed']}) -> {path}")  # fmt: skip
        self.progress.stage("generate", plan["rows"])
        started = time.monotonic()
        generate_file(path, plan["rows"], plan["start_hour"], 24 * plan["days"], plan["seed"], self.progress)
        self.stage("generate", time.monotonic() - started, plan["rows"], bytes=path.stat().st_size)

    def prepare_oracle(self, path: Path, rows_hint: int) -> Any:
        from bench.fullrun_oracle import Oracle, OracleError

        self.log("==> oracle: every event and window of the file in DuckDB (out of core, before publishing)")
        self.progress.stage("oracle", rows_hint)
        started = time.monotonic()
        try:
            self.oracle = Oracle(
                self.work / "oracle.duckdb", self.work / "duckdb_tmp", memory_limit=self.args.oracle_memory
            )
            summary = self.oracle.load(path, on_rows=lambda n: self.progress.update(n))
            self.progress.update(note="windows")
            windows = self.oracle.build_windows()
        except OracleError as exc:
            raise UserError(f"the oracle cannot compute {path.name}: {exc}") from None
        distinct = self.oracle.con.execute("SELECT count(DISTINCT event_id) FROM events").fetchone()[0]
        self.stage("oracle", time.monotonic() - started, summary.rows, window_rows=windows,
                   valid_rows=summary.valid_rows, duplicate_ids=summary.valid_rows - distinct)  # fmt: skip
        if summary.valid_rows != distinct:
            self.log(f"    note: {summary.valid_rows - distinct} event id(s) repeat in the file; the daily "
                     "ETL keeps one row per id, so the marts will count fewer events than the windows")  # fmt: skip
        return summary

    def replay_and_stream(self, path: Path, rows: int, first_hour: str, last_hour: str) -> dict[str, Any]:
        """Replays the file and waits for the stream to drain; returns the replay's report."""
        import psycopg

        from bench import fullrun_stack as stack

        cfg = self.cfg
        topic = cfg["TOPIC_RAW"]
        # Others may have published since the plan: events behind the watermark would all be late.
        with psycopg.connect(config.pg_dsn("PG_DASHBOARD"), autocommit=True) as conn:
            reached = stack.reached_time(cfg, stack.running_job_id(cfg), conn)
        if reached is not None and reached > _utc(self._hour_ms(first_hour)):
            raise RunAborted(
                f"since this run chose its days, something else moved the streaming job to {reached:%Y-%m-%d %H:%M} "
                f"UTC, past {first_hour}: this run's events would be late. Nothing was published; run again"
            )
        self.offsets_before = stack.end_offsets(cfg, topic)
        self.topic_bytes_before = topic_bytes(cfg, topic)
        last_start = _utc(self._hour_ms(last_hour))
        last_end_ms = int(last_start.timestamp() * 1000) + 3_600_000
        expected_last = self._windows_in_hour(last_start)
        self.log(
            f"==> replay: {path.name} into {topic} as fast as possible (include.ingest.replay --pace asap)"
        )
        self.log(f"    then the stream: until the job's watermark reaches {_fmt_ms(last_end_ms - 1)} and the "
                 f"{expected_last[60]} 1-minute and {expected_last[300]} 5-minute windows of the last hour "
                 "are in PostgreSQL")  # fmt: skip
        self.log_dir.mkdir(parents=True, exist_ok=True)
        replay_log = self.log_dir / f"{self.started_at:%Y%m%dT%H%M%SZ}-replay.log"
        report_file = self.work / "replay_report.json"
        cmd = [sys.executable, "-m", "include.ingest.replay", "--file", str(path), "--pace", "asap",
               "--json", "--no-progress"]  # fmt: skip
        self.progress.stage("replay", rows)
        started = time.monotonic()
        with replay_log.open("wb") as err, report_file.open("wb") as out:
            self.replay_proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO)
        if self.sampler:
            self.sampler.extra["bench:replay"] = self.replay_proc.pid
        timeout = self.args.stream_timeout or max(900.0, rows / 5_000)
        replay_s: float | None = None
        restarts: set[str] = set()
        drained_at: float | None = None
        last_progress = 0.0
        overtaken_at: float | None = None
        conn: Any = None
        try:
            while drained_at is None:
                now = time.monotonic()
                if replay_s is None and self.replay_proc.poll() is not None:
                    replay_s = now - started
                    code = self.replay_proc.returncode
                    if self.sampler:
                        self.sampler.extra.pop("bench:replay", None)
                    self.log(f"    replay exited {code} after {replay_s:,.1f} s (log: {replay_log})")
                    if code in (2, 3):
                        tail = replay_log.read_text(errors="replace").strip().splitlines()[-3:]
                        raise UserError("the replay failed: " + " | ".join(tail) + " (run make status)")
                    if code not in (0, 1):
                        raise RuntimeError(f"the replay exited {code}; see {replay_log}")
                    if code == 1:
                        # Rows unaccounted: the replay sent no end-of-input markers, so the stream
                        # would wait for the rest until the timeout. Say what is missing now.
                        raise RunAborted(_incomplete_replay(report_file, replay_log))
                    self.progress.stage("stream", rows, started=started)
                # A failed job is resubmitted from its checkpoint by dag_flink_health: wait for it.
                try:
                    job_id = stack.find_running_job(cfg)
                    mark = (stack.watermark_ms(cfg, job_id) or 0) if job_id else 0
                except (UserError, OSError, KeyError, ValueError):
                    job_id, mark = None, 0  # the REST API during a redeploy: ask again next second
                if job_id is None:
                    self.progress.update(
                        note="the streaming job is not running (dag_flink_health resubmits it)"
                    )
                    mark = 0
                else:
                    restarts.add(job_id)
                if job_id and now - last_progress > 5:
                    last_progress = now
                    done = self.oracle.events_until(mark) if mark else 0
                    if self.chaos:
                        self.chaos.progress("stream", done / max(rows, 1))
                    note = f"job watermark {_utc(mark):%m-%d %H:%M}" if mark else "job watermark: none yet"
                    if replay_s is None:
                        try:
                            published = sum(stack.end_offsets(cfg, topic).values()) - sum(
                                self.offsets_before.values()
                            )
                        except Exception:  # only the progress line needs it: skip a broker hiccup
                            published = 0
                        note = f"~{published:,} records in Kafka; {note} ({done:,} events)"
                        self.progress.update(min(published, rows), note)
                    else:
                        self.progress.update(done, note)
                # A job restored from a checkpoint shows no watermark until new events come; its
                # windows of the last hour can only exist once the watermark passed the hour's end.
                if mark >= last_end_ms - 1 or (mark == 0 and restarts):
                    try:
                        conn = conn or psycopg.connect(config.pg_dsn("PG_DASHBOARD"), autocommit=True)
                        if stack.all_window_counts(conn, last_start) == expected_last:
                            drained_at = time.monotonic()
                            break
                    except psycopg.OperationalError:
                        conn = None  # PostgreSQL restarting: the rows are durable, ask again
                        self.progress.update(note="PostgreSQL does not answer; retrying")
                if mark > last_end_ms - 1:
                    # The replay's end-of-input markers put the watermark at exactly last_end - 1 ms:
                    # beyond it, someone else is publishing later events into the topic. During the
                    # replay this run's remaining events become late; after it, allow the last
                    # windows a minute to land.
                    overtaken_at = overtaken_at or now
                    if replay_s is None or now - overtaken_at > 60:
                        raise RunAborted(
                            f"the job's watermark went to {_fmt_ms(mark)}, past this run's last hour, before "
                            "its windows were complete: something else publishes later events into "
                            f"{topic}, so this run's events arrive late (late_event dead letters). Run again "
                            "when nothing else replays into the topic"
                        )
                if now - started > timeout:
                    raise RuntimeError(
                        f"the stream did not drain within {timeout:.0f} s (watermark {_utc(mark) if mark else None}); "
                        "see the Flink UI (make status); raise --stream-timeout for slower machines"
                    )
                time.sleep(1.0)
        finally:
            if conn is not None:
                conn.close()
        if replay_s is None:  # drained before the replay process finished its own bookkeeping
            self.replay_proc.wait()
            replay_s = time.monotonic() - started
        stream_s = drained_at - started
        self.replay_proc = None
        try:
            report = json.loads(report_file.read_text().strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            raise RuntimeError(f"the replay printed no JSON report; see {replay_log}") from None
        self.stage("replay", replay_s, report["rows_read"], producer_s=round(report["elapsed_s"], 2),
                   rows_read=report["rows_read"], published=report["published"],
                   dead_lettered=report["dead_lettered"], failed=report["failed"], log=str(replay_log))  # fmt: skip
        self.stage("stream", stream_s, rows, job_restarts=max(0, len(restarts) - 1))
        return report

    def _windows_in_hour(self, hour_start: datetime) -> dict[int, int]:
        """Oracle: how many 1- and 5-minute windows (dimension all) start within the hour."""
        start_ms = int(hour_start.timestamp() * 1000)
        rows = self.oracle.con.execute(
            "SELECT size_s, count(*) FROM windows WHERE dimension = 'all' AND start_ms >= ? AND start_ms < ? "
            "GROUP BY 1",
            [start_ms, start_ms + 3_600_000],
        ).fetchall()
        return {60: 0, 300: 0} | {int(s): int(n) for s, n in rows}

    def etl(self, days: list[date], rows: int) -> dict[str, Any]:
        from bench import fullrun_stack as stack

        # Airflow may be restarting (make reload) when the stream ends: wait for it a while.
        self.airflow = stack.airflow_client(self.cfg, wait_s=300)
        self.log(f"==> etl: one backfill of {stack.ETL_DAG} for {_span(days)} from the archive "
                 "(POST /api/v2/backfills; runs for D+1 build D)")  # fmt: skip
        self.progress.stage("etl", len(days), unit="days")
        started = time.monotonic()
        self.backfill = stack.start_backfill(self.airflow, days[0], days[-1])
        timeout = self.args.etl_timeout or 1800 + 900 * len(days)
        runs: list[dict[str, Any]] = []
        unreachable_since: float | None = None
        while True:
            try:
                runs = stack.backfill_runs(self.airflow, self.backfill)
                unreachable_since = None
            except stack.TRANSIENT as exc:
                # Airflow restarting (make reload) is not the ETL failing: its runs go on meanwhile.
                unreachable_since = unreachable_since or time.monotonic()
                if time.monotonic() - unreachable_since > 300:
                    raise RunAborted(
                        f"Airflow's API has not answered for 5 minutes ({exc}); backfill {self.backfill.id} "
                        "may still be running: see make status and the Airflow UI"
                    ) from None
                self.progress.update(note=f"Airflow's API does not answer ({type(exc).__name__}); retrying")
                time.sleep(5)
                continue
            done = [r for r in runs if r["state"] in stack.TERMINAL]
            running = [r for r in runs if r["state"] not in stack.TERMINAL]
            note = f"building {_run_day(running[0])}" if running else ""
            if self.chaos:
                self.chaos.progress("etl", (len(done) + 0.5 * bool(running)) / len(days))
            self.progress.update(len(done), note)
            if len(runs) >= len(days) and not running:
                break
            if time.monotonic() - started > timeout:
                stack.cancel_backfill(self.airflow, self.backfill)
                raise RuntimeError(
                    f"the backfill did not finish within {timeout:.0f} s ({note}); it was cancelled. "
                    f"Look at the runs in the Airflow UI: {self.cfg['AIRFLOW_URL']}/dags/{stack.ETL_DAG}"
                )
            time.sleep(5)
        total = time.monotonic() - started
        per_day: dict[str, Any] = {}
        for run in runs:
            day = _run_day(run)
            entry = {"run_id": run["dag_run_id"], "state": run["state"], "seconds": stack.run_seconds(run)}
            if run["state"] != "success":
                entry["failed_tasks"] = stack.failed_tasks(self.airflow, run["dag_run_id"])
                self.log(f"    {day}: {run['state']} (failed tasks: {', '.join(entry['failed_tasks']) or 'none'}); "
                         f"{self.cfg['AIRFLOW_URL']}/dags/{stack.ETL_DAG}/runs/{run['dag_run_id']}")  # fmt: skip
            per_day[day.isoformat()] = entry
        self.backfill = None
        runs_sum = sum(e["seconds"] or 0 for e in per_day.values())
        self.stage("etl", total, rows, backfill_runs=len(runs), runs_sum_s=round(runs_sum, 1))
        return per_day

    # -- checks --------------------------------------------------------------------------------

    def check_windows(self, days: list[date]) -> dict[str, Any]:
        import psycopg

        from bench import fullrun_stack as stack
        from bench.fullrun_oracle import export_windows

        expected = self.oracle.con.execute("SELECT count(*) FROM windows").fetchone()[0]
        # The sink writes asynchronously: give the last flushes a moment before comparing.
        with psycopg.connect(config.pg_dsn("PG_DASHBOARD"), autocommit=True) as conn:
            deadline, last, stable_since = time.monotonic() + 60, -1, time.monotonic()
            while time.monotonic() < deadline:
                n = stack.window_rows_of_days(conn, days[0], days[-1])
                if n == expected:
                    break
                if n != last:
                    last, stable_since = n, time.monotonic()
                elif time.monotonic() - stable_since > 15:
                    break
                time.sleep(2)
            csv = self.work / "windows_pg.csv"
            exported = export_windows(conn, days[0], days[-1], csv)
        comparison = self.oracle.compare_windows(csv)
        csv.unlink(missing_ok=True)
        return {"equal": comparison.equal, "oracle_rows": comparison.expected, "table_rows": comparison.actual,
                "missing": comparison.missing, "extra": comparison.extra, "different": comparison.different,
                "examples": comparison.examples, "export_bytes": exported}  # fmt: skip

    def check_marts(self, days: list[date]) -> tuple[dict[str, Any], dict[str, Any]]:
        import psycopg

        from bench.fullrun_marts import actual_marts, builder_conn, compare, expected_marts, first_seen_table
        from include.batch.stream_reconcile import reconcile_day

        marts: dict[str, Any] = {}
        reconciled: dict[str, Any] = {}
        with builder_conn() as pg, psycopg.connect(config.pg_dsn("PG_DASHBOARD"), autocommit=True) as dash:
            for day in days:
                self.progress.update(note=f"marts of {day}")
                view = self.oracle.day_view(day)
                first_seen = first_seen_table(self.oracle.con, pg, day, days)
                expected = expected_marts(self.oracle.con, view, day, first_seen)
                result = compare(day, actual_marts(pg, day), expected)
                marts[day.isoformat()] = {"equal": result.equal, "rows": result.rows,
                                          "differences": result.differences}  # fmt: skip
                rec = reconcile_day(dash, day)
                reconciled[day.isoformat()] = {"equal": rec.equal, "rows": rec.rows_compared,
                                               "differences": rec.differences[:10]}  # fmt: skip
        return marts, reconciled

    def check_default_partitions(self) -> list[dict[str, Any]]:
        import psycopg

        from include.db.partitions import default_partitions

        with psycopg.connect(config.pg_dsn("PG_DASHBOARD")) as conn:
            return [
                {"parent": d.parent, "partition": d.partition, "rows": d.rows}
                for d in default_partitions(conn)
            ]

    def check_accounting(self, report: dict[str, Any]) -> dict[str, Any]:
        from bench import fullrun_stack as stack

        topic = self.cfg["TOPIC_RAW"]
        end = stack.end_offsets(self.cfg, topic)
        self.progress.stage("checks: topic", sum(end.values()) - sum(self.offsets_before.values()))
        counted = stack.count_records(
            self.cfg, topic, self.offsets_before, end, lambda n: self.progress.update(n)
        )
        balanced = (
            report["rows_read"] == report["published"] + report["dead_lettered"] and report["failed"] == 0
        )
        return {"ok": balanced and counted.records == report["published"], "rows_read": report["rows_read"],
                "published": report["published"], "dead_lettered": report["dead_lettered"],
                "failed": report["failed"], "topic_new_records": counted.records,
                "topic_new_markers": counted.markers, "read_s": round(counted.seconds, 1)}  # fmt: skip

    def pg_split(self, days: list[date]) -> dict[str, int | None]:
        """Bytes of the run's own partitions: windows (per window row) and analytics (per event)."""
        import psycopg

        from include.batch.days import partition_name

        names = {
            "windows": [f"realtime.ad_window_metrics_p{d:%Y%m%d}" for d in days],
            "analytics": [f"analytics.{partition_name(d)}" for d in days],
        }
        out: dict[str, int | None] = {}
        with psycopg.connect(config.pg_dsn("PG_OWNER"), autocommit=True) as conn:
            for key, tables in names.items():
                out[key] = conn.execute(
                    "SELECT sum(pg_total_relation_size(to_regclass(t))) FROM unnest(%s::text[]) t", (tables,)
                ).fetchone()[0]
        return {k: int(v) if v is not None else None for k, v in out.items()}

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> int:
        from bench import fullrun_stack as stack

        args, cfg = self.args, self.cfg
        self.log(f"==> full run against the stack under {self.data_dir} (checking it is up)")
        stack.preflight(cfg)
        plan = self.plan()
        disk_plan = self.check_disk(plan)
        self.work.mkdir(parents=True, exist_ok=True)
        disk_before = disk_usage(cfg)
        self.sampler = MemorySampler(self.data_dir / "run", interval_s=args.memory_interval).start()
        self.sampler.tools["bench:fullrun"] = os.getpid()
        try:
            if plan["generated"]:
                self.generate(plan)
            summary = self.prepare_oracle(plan["file"], plan["rows_estimate"])
            rows, days, hours = summary.rows, summary.days, summary.hours
            if not plan["generated"]:
                self._check_archive_free(days)
            if hours[0][0][-2:] != "00" or hours[-1][0][-2:] != "23":
                raise UserError(
                    f"{plan['file'].name} spans {hours[0][0]}..{hours[-1][0]}: the daily ETL builds whole "
                    "UTC days (hours 00..23) and would wait for the missing hours"
                )
            self.log(f"    {rows:,} rows, {len(hours)} hours, {_span(days)}")
            if args.chaos:
                self.chaos = Chaos(cfg, plan.get("seed") or int(days[0].strftime("%Y%m%d")), self.log)
            report = self.replay_and_stream(plan["file"], rows, hours[0][0], hours[-1][0])
            if self.chaos:
                self.chaos.finish_stage("stream")
            etl_days = self.etl(days, rows)
            if self.chaos:
                self.chaos.finish_stage("etl")
            self.log("==> checks")
            started = time.monotonic()
            self.progress.stage("checks: windows vs oracle")
            windows = self.check_windows(days)
            self.log(f"    windows: {windows['table_rows']:,} rows in PostgreSQL, {windows['oracle_rows']:,} "
                     f"from the oracle: {windows['missing']} missing, {windows['extra']} extra, "
                     f"{windows['different']} different")  # fmt: skip
            for example in windows["examples"]:
                self.log(f"      {example}")
            self.progress.stage("checks: marts")
            marts, reconciled = self.check_marts(days)
            defaults = self.check_default_partitions()
            accounting = self.check_accounting(report)
            self.stage("checks", time.monotonic() - started, None)
            pg_split = self.pg_split(days)
        finally:
            self.sampler.stop()
        checks = {
            "equal_to_oracle": windows["equal"],
            "marts_equal": len(marts) == len(days) and all(m["equal"] for m in marts.values()),
            "marts_equal_windows": all(r["equal"] for r in reconciled.values()),
            "default_partitions_empty": all(d["rows"] == 0 for d in defaults),
            "accounting_ok": accounting["ok"],
            "etl_succeeded": all(e["state"] == "success" for e in etl_days.values()),
        }
        self.result = {
            "rows": rows,
            "days": [d.isoformat() for d in days],
            "hours": len(hours),
            "started_at": self.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "input": {
                "file": str(plan["file"]),
                "generated": plan["generated"],
                "bytes": plan["file"].stat().st_size,
                "seed": plan.get("seed"),
            },
            "machine": {"cores": os.cpu_count(), "load_average_end": [round(x, 2) for x in os.getloadavg()]},
            **checks,
            "all_checks_ok": all(checks.values()),
            "windows": windows,
            "marts": marts,
            "reconcile": reconciled,
            "default_partitions": defaults,
            "accounting": accounting,
            "stream_events_per_s": self.stages["stream"]["events_per_s"],
            "etl_total_s": self.stages["etl"]["seconds"],
            "etl_runs_sum_s": self.stages["etl"]["runs_sum_s"],
            "etl_days": etl_days,
            "stages": self.stages,
            **self._memory(),
            **self._disk(plan, days, rows, disk_before, pg_split, windows["table_rows"]),
            "disk_estimate": disk_plan,
        }
        self.result["targets"] = self._targets(len(days))
        key = "full" if rows >= FULL_ROWS else "full_small"
        if self.chaos:
            key = "chaos"
            faults = self.chaos.results()
            alerts = self._alerts_resolved()
            self.result.update(
                faults=faults,
                alerts=alerts,
                faults_survived=all(f["fired"] and f["recovered"] for f in faults),
                alerts_resolved=all(a["resolved"] for a in alerts.values()),
            )
            self.result["all_checks_ok"] = (
                self.result["all_checks_ok"]
                and self.result["faults_survived"]
                and self.result["alerts_resolved"]
            )
        self.write_results(key)
        self.summary(key)
        return 0 if self.result["all_checks_ok"] else 1

    def _alerts_resolved(self, wait_s: float = 600.0) -> dict[str, dict[str, Any]]:
        """The alerts about the pipeline that reached Slack during the run; waits for each to resolve
        (Alertmanager repeats a resolution within its group interval)."""
        deadline = time.monotonic() + wait_s
        self.progress.stage("checks: alerts")
        while True:
            alerts = alerts_since(self.cfg, self.started_at, self.cfg["FLINK_JOB_NAME"])
            pending = sorted(name for name, a in alerts.items() if not a["resolved"])
            if not pending or time.monotonic() > deadline:
                self.log(f"    alerts during the run: {alerts or 'none'}")
                return alerts
            self.progress.update(note=f"waiting for {', '.join(pending)} to resolve")
            time.sleep(15)

    def _memory(self) -> dict[str, Any]:
        assert self.sampler is not None
        if not self.sampler.samples:
            # No figure is not a small figure: the target must not pass on it.
            self.log(
                f"    note: no memory sample succeeded ({self.sampler.errors} errors): is supervisord up?"
            )
        return {
            "peak_memory_gb": round(self.sampler.peak_total_kb / 1024**2, 3)
            if self.sampler.samples
            else None,
            "peak_memory_at": datetime.fromtimestamp(self.sampler.peak_total_at, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "memory_peak_gb_by_component": self.sampler.peaks_gb(),
            "memory_samples": self.sampler.samples,
            "memory_sampler_errors": self.sampler.errors,
        }

    def _disk(
        self,
        plan: dict[str, Any],
        days: list[date],
        rows: int,
        before: dict[str, int],
        pg_split: dict[str, int | None],
        window_rows: int,
    ) -> dict[str, Any]:
        cfg = self.cfg
        after = disk_usage(cfg)
        own = run_bytes(cfg, days)
        # The raw topic only grew by this run's records when accounting holds (nobody else wrote).
        own["kafka"] = topic_bytes(cfg, cfg["TOPIC_RAW"]) - self.topic_bytes_before
        own["postgres"] = (pg_split["windows"] or 0) + (pg_split["analytics"] or 0)
        own["checkpoints"] = after["checkpoints"]  # the job's state: windows in flight, not events
        per_event = {k: round(v / rows, 1) for k, v in own.items()}
        oracle_bytes = sum(p.stat().st_size for p in self.work.glob("oracle.duckdb*"))
        input_bytes = plan["file"].stat().st_size if plan["generated"] else 0
        return {
            "disk_gb": {k: round(v / GB, 3) for k, v in after.items()},
            "disk_delta_gb": {k: round((v - before[k]) / GB, 3) for k, v in after.items()},
            "run_disk_gb": {k: round(v / GB, 3) for k, v in own.items()},
            "bytes_per_event": per_event,
            "postgres_run_partitions_bytes": pg_split,
            "estimate_inputs": {
                "bytes_per_event": {
                    "kafka": per_event["kafka"],
                    "archive": per_event["archive"],
                    "parquet": per_event["parquet"],
                    "analytics": round(pg_split["analytics"] / rows, 1) if pg_split["analytics"] else None,
                    "oracle": round(oracle_bytes / rows, 1),
                    "input_gz": round(input_bytes / rows, 1) if input_bytes else None,
                },
                "bytes_per_window_row": round(pg_split["windows"] / window_rows, 1)
                if pg_split["windows"] and window_rows
                else None,
            },
        }

    def _targets(self, days: int) -> dict[str, Any]:
        stream = self.result["stream_events_per_s"]
        etl = self.result["etl_total_s"]
        # The ETL target is for the ten days of the full run: a shorter run is judged by its total
        # scaled to ten days (optimistic: its days are smaller than Avazu's ~4M events).
        etl_ten_days = etl / days * FULL_DAYS
        peak = self.result["peak_memory_gb"]
        return {
            "stream_events_per_s": {"target": f">= {TARGETS['stream_events_per_s']}", "value": stream,
                                    "pass": bool(stream and stream >= TARGETS["stream_events_per_s"])},
            "etl_total_s": {"target": f"<= {TARGETS['etl_total_s']} for ten days", "value": etl,
                            "ten_day_equivalent_s": round(etl_ten_days, 1),
                            "pass": etl_ten_days <= TARGETS["etl_total_s"]},
            "peak_memory_gb": {"target": f"< {TARGETS['peak_memory_gb']}", "value": peak,
                               "pass": peak is not None and peak < TARGETS["peak_memory_gb"]},
        }  # fmt: skip

    def write_results(self, key: str) -> None:
        path = self.args.results
        current = json.loads(path.read_text()) if path.exists() else {}
        current[key] = self.result
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(current, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, path)

    def summary(self, key: str) -> None:
        r = self.result
        self.log(f"\n==> {r['rows']:,} events over {r['hours']} hours ({r['days'][0]}..{r['days'][-1]} UTC); "
                 f"results in {self.args.results} key {key}")  # fmt: skip
        for name, stage in r["stages"].items():
            rate = f"{stage['events_per_s']:>10,} events/s" if stage.get("events_per_s") else ""
            self.log(f"    {name:<10} {stage['seconds']:>10,.1f} s {rate}")
        for day, entry in r["etl_days"].items():
            self.log(f"      etl {day}: {entry['state']} in {entry['seconds']} s")
        for name in ("equal_to_oracle", "marts_equal", "marts_equal_windows", "default_partitions_empty",
                     "accounting_ok", "etl_succeeded"):  # fmt: skip
            self.log(f"    {name:<26} {'yes' if r[name] else 'NO'}")
        for fault in r.get("faults", []):
            outcome = f"recovered in {fault['recovery_s']} s" if fault.get("recovered") else "NOT recovered"
            self.log(
                f"    chaos {fault['fault']:<20} {fault['stage']:<7} {outcome if fault['fired'] else 'never fired'}"
            )
        for name, alert in r.get("alerts", {}).items():
            self.log(f"    alert {name}: {alert['firing_messages']} firing message(s), "
                     f"{'resolved' if alert['resolved'] else 'NOT resolved'}")  # fmt: skip
        for day, m in r["marts"].items():
            for diff in m["differences"][:3]:
                self.log(f"      marts {day}: {diff}")
        for day, m in r["reconcile"].items():
            for diff in m["differences"][:3]:
                self.log(f"      marts vs windows {day}: {diff}")
        for name, t in r["targets"].items():
            self.log(f"    target {name:<20} {t['value']} ({t['target']}): {'pass' if t['pass'] else 'FAIL'}")
        top = ", ".join(f"{k} {v:.2f}" for k, v in list(r["memory_peak_gb_by_component"].items())[:5])
        self.log(f"    peak memory {r['peak_memory_gb']} GB (PSS, whole stack); top: {top}")
        self.log("    disk (GB at the end): " + ", ".join(f"{k} {v:.3f}" for k, v in r["disk_gb"].items()))
        self.log(
            "    this run's data (GB): " + ", ".join(f"{k} {v:.3f}" for k, v in r["run_disk_gb"].items())
        )
        self.log("    bytes per event: " + ", ".join(f"{k} {v}" for k, v in r["bytes_per_event"].items()))

    def cleanup(self, interrupted: bool) -> None:
        from bench import fullrun_stack as stack

        if self.replay_proc is not None and self.replay_proc.poll() is None:
            self.replay_proc.terminate()  # our own child, by its pid
            try:
                self.replay_proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.replay_proc.kill()
        if self.backfill is not None and self.airflow is not None:
            try:
                stack.cancel_backfill(self.airflow, self.backfill)
                self.log(f"    cancelled this run's backfill {self.backfill.id}")
            except Exception as exc:
                self.log(
                    f"    could not cancel backfill {self.backfill.id} ({exc}): cancel it in the Airflow UI"
                )
        if self.sampler is not None:
            self.sampler.stop()
        if self.oracle is not None:
            self.oracle.close()
        if self.work.exists():
            if self.args.keep_work:
                self.log(f"    kept {self.work}")
            else:
                shutil.rmtree(self.work, ignore_errors=True)
        if interrupted:
            self.log("    events already published stay in Kafka and the job processes them: the next run "
                     "starts at the first day after them")  # fmt: skip


def _incomplete_replay(report_file: Path, replay_log: Path) -> str:
    """Why a replay that exited 1 cannot be measured: its accounting, or its log's last lines."""
    try:
        report = json.loads(report_file.read_text().strip().splitlines()[-1])
    except (OSError, IndexError, json.JSONDecodeError):
        tail = replay_log.read_text(errors="replace").strip().splitlines()[-3:]
        return "the replay exited 1 without a report: " + " | ".join(tail)
    return (
        f"the replay did not account for every row ({report.get('rows_read', 0):,} read, "
        f"{report.get('published', 0):,} published, {report.get('dead_lettered', 0):,} dead-lettered, "
        f"{report.get('failed', 0):,} failed, {report.get('unaccounted', 0):,} unaccounted), so it sent "
        f"no end-of-input markers and the windows cannot complete; see {replay_log}"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    progress = Progress()
    run = None
    interrupted = False
    try:
        run = FullRun(args, progress)
        return run.run()
    except UserError as exc:
        progress.log(f"fullrun: error: {exc}")
        return 2
    except RunAborted as exc:
        progress.log(f"fullrun: aborted: {exc}")
        return 1
    except KeyboardInterrupt:
        interrupted = True
        progress.log("fullrun: interrupted")
        return 130
    except Exception as exc:
        # Not a user mistake: keep the traceback, say where to look.
        import traceback

        progress.log(traceback.format_exc().rstrip())
        progress.log(f"fullrun: failed: {exc}")
        return 1
    finally:
        if run is not None:
            run.cleanup(interrupted)
        progress.close()


if __name__ == "__main__":
    sys.exit(main())
