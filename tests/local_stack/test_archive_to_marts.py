"""The stream's archive is the batch's input: a day streamed through the job, with a restart from
scratch in the middle (every event of the first half archived twice), read by the scheduled path of
dag_daily_etl (wait for the 24 complete hours, extract once per event id, validate, load, dbt).

The day (2013-03-05) is outside Avazu's 2014 range and every other test's days. The job is the
deployed job's code on a private topic and window table (window_metrics_support), archiving into
the stack's archive (FLINK_ARCHIVE_URI), where dag_daily_etl reads.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from typing import Any

import pytest
from marts_support import assert_marts_equal, cleanup, expected_events, expected_marts, snapshot
from window_metrics_support import (
    _produce,
    cancel_job,
    isolated_run,
    producer,
    send_heartbeats,
    submit_job,
    wait_for,
    wait_for_table,
    wait_running,
)

from include import archive
from include.flink_jobs.ad_window_metrics import oracle
from include.ingest.end_of_input import end_of_input_time
from include.ingest.generator import generate

pytestmark = pytest.mark.integration

DAY = date(2013, 3, 5)
DAG_ID = "dag_daily_etl"


def _publish(cfg: dict[str, str], topic: str, events: list[dict[str, Any]]) -> None:
    prod = producer(cfg)
    for event in events:
        value = json.dumps(event, separators=(",", ":")).encode()
        _produce(prod, topic, key=event["event_id"].encode(), value=value)
    assert prod.flush(120) == 0


def test_streamed_day_restarted_from_scratch_builds_marts_equal_to_the_independent_computation(
    bootstrapped: Any, airflow: Any, cfg: dict[str, str], kafka_admin: Any, pg_owner: Any, tmp_path: Any
) -> None:
    path = tmp_path / "day.csv"
    generate(path, 12_000, DAY.strftime("%y%m%d") + "00", 24, seed=21, progress=False)
    events = list(oracle.events_from_avazu(path))
    first_half = [e for e in events if e["hour"] < DAY.strftime("%y%m%d") + "12"]
    root = archive.root_path(cfg["FLINK_ARCHIVE_URI"])
    shutil.rmtree(archive.day_dir(root, DAY), ignore_errors=True)
    cleanup([DAY])
    try:
        with isolated_run(cfg, kafka_admin, pg_owner, archive_dir=root) as run:
            _publish(cfg, run.topic, first_half)
            job_id = submit_job(cfg, run.job_args())
            wait_running(cfg, job_id)
            # Hours 00-10 are complete once hour 11's events moved the watermark past them.
            wait_for(lambda: not archive.missing_hours(root, DAY, range(11)), 180, "hours 00-10 archived", 2)
            # A restart without state: the job reads the topic from the start again and archives
            # every event of the first half a second time (the windows just upsert themselves).
            cancel_job(cfg, job_id)
            job_id = submit_job(cfg, run.job_args())
            wait_running(cfg, job_id)
            _publish(cfg, run.topic, events[len(first_half) :])
            last_hour_start = max(e["event_time"] for e in events) // 3_600_000 * 3_600_000
            send_heartbeats(cfg, run.topic, end_of_input_time(last_hour_start))
            wait_for_table(pg_owner, run.table, oracle.compute(events), timeout=300)

            # The scheduled path: wait for the 24 complete hours, then build the day.
            run_id, state = airflow.run_and_wait(DAG_ID, {"source": "archive", "day": DAY.isoformat()}, 900)
            states = {t["task_id"]: t["state"] for t in airflow.task_instances(DAG_ID, run_id)}
            assert state == "success", states
            assert archive.missing_hours(root, DAY) == []
    finally:
        shutil.rmtree(archive.day_dir(root, DAY), ignore_errors=True)

    extracted = airflow.xcom(DAG_ID, run_id, "extract")
    assert extracted["rows"] == len(events) == 12_000
    # Hours 00-10 certainly twice; hour 11 partly, as far as the first run had committed it.
    in_first_eleven = sum(e["hour"] < DAY.strftime("%y%m%d") + "11" for e in events)
    assert in_first_eleven <= extracted["duplicates_dropped"] <= len(first_half), extracted
    try:
        assert_marts_equal(snapshot(DAY), expected_marts(expected_events(path, DAY), DAY))
    finally:
        cleanup([DAY])
