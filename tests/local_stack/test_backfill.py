"""Backfill: hours the live stream has passed are recomputed from a new file, not dead-lettered.

One day (2013-04-07, outside every other test's days) is streamed through the deployed job's code on
a private topic and window table (window_metrics_support), archiving into the stack's archive. Then
hour 12 is backfilled from a file whose rows differ (more clicks, one campaign gone): its windows
must equal the oracle of that file, every other hour stays as streamed, the live job keeps running,
a backfill killed midway changes nothing and the next one gives the same windows again, and
the daily ETL of the day gives marts equal to the independent computation of the new day.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis
from airflow_logs_support import task_log
from marts_support import assert_marts_equal, cleanup, expected_events, expected_marts, snapshot
from window_metrics_support import (
    REPO,
    completed_checkpoints,
    diff,
    isolated_run,
    job_state,
    jobs_named,
    replay_file,
    send_heartbeats,
    submit_job,
    wait_for,
    wait_for_table,
    wait_running,
)

from include import archive
from include.backfill.run import BackfillRequest, run_backfill
from include.flink_jobs.ad_window_metrics import oracle
from include.flink_jobs.ad_window_metrics.redis_cache import window_key
from include.flink_jobs.ad_window_metrics.table import read_rows
from include.ingest.end_of_input import end_of_input_time
from include.ingest.event_time import hour_start_ms
from include.ingest.generator import generate

pytestmark = pytest.mark.integration

DAY = date(2013, 4, 7)
HOUR = DAY.strftime("%y%m%d") + "12"
CLICK, HOUR_COL, CAMPAIGN = 1, 2, 19  # Avazu columns: click, hour, C17 (campaign_id)


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as f:
        reader = csv.reader(f)
        return next(reader), list(reader)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([header, *rows])
    return path


def _new_hour(header: list[str], rows: list[list[str]]) -> tuple[list[list[str]], str]:
    """Hour 12 changed: every other non-click becomes a click, and the biggest campaign is gone."""
    hour = [list(r) for r in rows if r[HOUR_COL] == HOUR]
    counts: dict[str, int] = {}
    for r in hour:
        counts[r[CAMPAIGN]] = counts.get(r[CAMPAIGN], 0) + 1
    gone = max(counts, key=lambda c: counts[c])
    changed = [r for r in hour if r[CAMPAIGN] != gone]
    for i, r in enumerate(changed):
        if r[CLICK] == "0" and i % 2 == 0:
            r[CLICK] = "1"
    return changed, gone


def _in_hour(key: Any) -> bool:
    start = hour_start_ms(HOUR)
    return start <= int(key[1].timestamp() * 1000) < start + 3_600_000


def test_backfilling_an_hour_behind_the_stream_replaces_its_windows_cache_archive_and_marts(
    bootstrapped: Any,
    airflow: Any,
    cfg: dict[str, str],
    kafka_admin: Any,
    pg_owner: Any,
    tmp_path: Path,
) -> None:
    day_file = tmp_path / "day.csv"
    generate(day_file, 4_800, DAY.strftime("%y%m%d") + "00", 24, seed=41, progress=False)
    header, rows = _rows(day_file)
    changed, gone = _new_hour(header, rows)
    hour_file = _write(tmp_path / "hour12.csv", header, changed)
    new_day_file = _write(
        tmp_path / "new_day.csv",
        header,
        [r for r in rows if r[HOUR_COL] < HOUR] + changed + [r for r in rows if r[HOUR_COL] > HOUR],
    )
    streamed = oracle.compute_file(day_file)
    expected = {k: v for k, v in streamed.items() if not _in_hour(k)} | oracle.compute_file(hour_file)
    assert any(k[2] == "campaign" and k[3] == gone and _in_hour(k) for k in streamed)
    assert sum(v.clicks for k, v in expected.items() if k[2] == "all") > sum(
        v.clicks for k, v in streamed.items() if k[2] == "all"
    )

    root = archive.root_path(cfg["FLINK_ARCHIVE_URI"])
    shutil.rmtree(archive.day_dir(root, DAY), ignore_errors=True)
    cleanup([DAY])
    backfill_topic = f"scratch_raw_backfill_{uuid.uuid4().hex[:8]}"
    try:
        with isolated_run(cfg, kafka_admin, pg_owner, archive_dir=root) as run:
            # The live stream: the whole day, then the end of input; the watermark is past hour 12.
            stats = replay_file(cfg, run.topic, day_file)
            live = submit_job(cfg, run.job_args())
            wait_running(cfg, live)
            send_heartbeats(cfg, run.topic, end_of_input_time(stats.max_event_time // 3_600_000 * 3_600_000))
            wait_for_table(pg_owner, run.table, streamed)
            wait_for(lambda: not archive.missing_hours(root, DAY), 180, "the day archived", 2)

            request = BackfillRequest(
                file=hour_file,
                hour_from=HOUR,
                hour_to=HOUR,
                topic=backfill_topic,
                dlq_topic=run.dlq_topic,
                sink_table=run.table,
                archive_uri=root.as_uri(),
                redis_prefix=f"wm_test_{run.token}",
                job_name=f"{run.job_name}_backfill",
            )
            report = run_backfill(request)
            assert report.published == len(changed) and report.dead_lettered == 0, report
            first = read_rows(pg_owner, run.table)
            assert not diff(first, expected), diff(first, expected)
            assert report.windows_written == sum(_in_hour(k) for k in expected), report
            assert report.windows_deleted == sum(_in_hour(k) for k in streamed), report
            assert not any(k[2] == "campaign" and k[3] == gone and _in_hour(k) for k in first)

            # The cache holds the new hour's windows, and nothing of the campaign that is gone.
            client = redis.Redis(
                host=cfg["REDIS_HOST"], port=int(cfg["REDIS_PORT"]), password=cfg["REDIS_PASSWORD"] or None
            )
            start_ms = hour_start_ms(HOUR)
            totals = client.hgetall(window_key(request.redis_prefix, 300, start_ms, "all"))
            key = next(k for k in expected if k[0] == 300 and k[2] == "all" and _in_hour(k) and
                       int(k[1].timestamp() * 1000) == start_ms)  # fmt: skip
            assert int(json.loads(totals[b""])["clicks"]) == expected[key].clicks
            campaigns = client.hgetall(window_key(request.redis_prefix, 300, start_ms, "campaign"))
            assert campaigns and gone.encode() not in campaigns

            # A second backfill of the range, killed while its batch job runs: nothing changes. Then a
            # third, to the end: identical windows (idempotent, and converging after a kill).
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            cli = subprocess.Popen(
                [sys.executable, "-m", "include.backfill", "--file", str(hour_file), "--from-hour", HOUR,
                 "--to-hour", HOUR, "--topic", backfill_topic,
                 "--sink-table", run.table, "--archive-uri", root.as_uri(),
                 "--redis-prefix", request.redis_prefix, "--job-name", request.job_name],
                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                wait_for(lambda: jobs_named(cfg, request.job_name, ("RUNNING",)), 300, "the batch job", 0.5)
            finally:
                cli.send_signal(signal.SIGKILL)
                cli.wait(30)
            assert read_rows(pg_owner, run.table) == first  # nothing of a killed run is visible
            again = run_backfill(request)
            assert read_rows(pg_owner, run.table) == first
            assert again.windows_deleted == again.windows_written == report.windows_written

            # The live job went on: still running, still checkpointing.
            assert job_state(cfg, live) == "RUNNING"
            done = completed_checkpoints(cfg, live)
            wait_for(lambda: completed_checkpoints(cfg, live) > done, 60, "a new checkpoint of the live job")
            assert archive.missing_hours(root, DAY) == []

        # The day's marts, rebuilt from the archive, follow the backfilled hour.
        run_id, state = airflow.run_and_wait(
            "dag_daily_etl", {"source": "archive", "day": DAY.isoformat()}, 900
        )
        assert state == "success", {
            t["task_id"]: t["state"] for t in airflow.task_instances("dag_daily_etl", run_id)
        }
        extracted = airflow.xcom("dag_daily_etl", run_id, "extract")
        assert extracted["rows"] == len(rows) - sum(r[HOUR_COL] == HOUR for r in rows) + len(changed)
        assert_marts_equal(snapshot(DAY), expected_marts(expected_events(new_day_file, DAY), DAY))
    finally:
        kafka_admin.delete_topics([backfill_topic])
        shutil.rmtree(archive.day_dir(root, DAY), ignore_errors=True)
        cleanup([DAY])


SAMPLE = REPO / "samples" / "avazu_sample_100.csv"


def test_the_replay_dag_backfills_hours_behind_the_live_job_and_refuses_to_dead_letter_them_silently(
    bootstrapped: Any, airflow: Any, cfg: dict[str, str], pg_owner: Any
) -> None:
    """The deployed job and the real topics, as a user drives them: the sample streams while its hour
    is ahead of the watermark; once the job has passed it, the same default trigger backfills it (the
    windows are the sample's, the summary says how many were rewritten), forcing the stream fails with
    the reason, and ticking late_events_intended streams it into the DLQ as before."""
    from include.demo import job_watermark

    sample_hour = SAMPLE.read_text().splitlines()[1].split(",")[2]
    end = hour_start_ms(sample_hour) + 3_600_000

    def passed() -> bool:
        mark = job_watermark(cfg)
        return mark is not None and mark.timestamp() * 1000 >= end - 1

    if not passed():  # a fresh stack: stream the sample first; its end-of-input markers close the hour
        run_id, state = airflow.run_and_wait("dag_avazu_replay", conf={}, timeout=600)
        assert state == "success", task_log(cfg, "dag_avazu_replay", run_id, "replay")[-2000:]
        wait_for(passed, 180, "the live job's watermark to pass the sample's hour", 2)

    run_id, state = airflow.run_and_wait("dag_avazu_replay", conf={}, timeout=900)
    assert state == "success", task_log(cfg, "dag_avazu_replay", run_id, "backfill")[-3000:]
    plan = airflow.xcom("dag_avazu_replay", run_id, "validate")["plan"]
    assert plan["backfill"] == [sample_hour, sample_hour] and plan["stream"] is None, plan
    summary = airflow.xcom("dag_avazu_replay", run_id, "summary")
    report = summary["backfilled"]
    assert report["published"] == 100 and summary["windows_rewritten"] == report["windows_written"] > 0
    assert "windows rewritten" in summary["summary"] and "windows rewritten" in task_log(
        cfg, "dag_avazu_replay", run_id, "summary"
    )
    assert airflow.dag_run("dag_avazu_replay", run_id).get("note") == summary["summary"]  # shown in the grid
    start = hour_start_ms(sample_hour) / 1000
    where = "window_start >= to_timestamp(%s) AND window_start < to_timestamp(%s)"
    actual = read_rows(pg_owner, "realtime.ad_window_metrics", where, (start, start + 3600))
    assert not diff(actual, oracle.compute_file(SAMPLE)), diff(actual, oracle.compute_file(SAMPLE))

    run_id, state = airflow.run_and_wait("dag_avazu_replay", conf={"mode": "stream"}, timeout=300)
    assert state == "failed"
    assert "streaming them would only dead-letter them as late_event" in task_log(
        cfg, "dag_avazu_replay", run_id, "validate"
    )

    run_id, state = airflow.run_and_wait(
        "dag_avazu_replay", conf={"mode": "stream", "late_events_intended": True}, timeout=600
    )
    assert state == "success"
    summary = airflow.xcom("dag_avazu_replay", run_id, "summary")
    assert summary["streamed"]["published"] == 100 and summary["backfilled"] is None
    assert summary["plan"]["reason"] == "late events intended"
