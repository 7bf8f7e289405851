"""The ad_window_metrics job on the real stack: replays give exactly the oracle's rows in PostgreSQL.

Each test has its own topics, sink table, job name and Redis prefix (window_metrics_support), runs
at most one job of its own and cancels it in ``finally``. End of input is a heartbeat per partition
(README "End of input"): it moves the watermark past every window without being counted.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
import redis
import requests
from stock_consumer_support import consume_stock
from window_metrics_support import (
    HEARTBEAT_LEAD_MS,
    cancel_job,
    dlq_records,
    isolated_run,
    latest_checkpoint_path,
    produce_raw,
    replay_file,
    replay_with_disruption,
    send_heartbeats,
    submit_job,
    table_rows,
    wait_for,
    wait_for_table,
    wait_running,
)

from include import archive as archive_mod
from include.flink_jobs.ad_window_metrics import oracle
from include.flink_jobs.ad_window_metrics.redis_cache import index_key, window_key
from include.ingest.generator import generate

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "avazu_sample_100.csv"
ARCHIVE_CHECKED = ("event_id", "event_time", "click", "conversion", "cost", "revenue", "campaign_id",
                   "C14", "site_id", "device_model", "price_model_version")  # fmt: skip


def _event(event_id: str, event_time: int, **extra: object) -> dict:
    """A valid event (what the producer would send), for hand-made records."""
    base = json.loads(next(iter(_sample_payloads())))
    base.update(event_id=event_id, event_time=event_time, **extra)
    return base


def _sample_payloads() -> list[bytes]:
    from include.ingest.avazu_reader import read_avazu
    from include.ingest.economics import load_price_model
    from include.ingest.events import compile_validator, encode_row, load_schema

    validator, model = compile_validator(load_schema()), load_price_model()
    return [
        e[1] for e in (encode_row(r, validator, model) for r in read_avazu(SAMPLE)) if isinstance(e, tuple)
    ]


def test_sample_replay_equals_oracle_and_bad_or_late_records_go_to_the_dlq(
    bootstrapped, cfg, kafka_admin, pg_owner, tmp_path
):
    expected = oracle.compute_file(SAMPLE)
    assert len(expected) > 20
    archive = tmp_path / "archive"
    with isolated_run(cfg, kafka_admin, pg_owner, archive_dir=archive) as run:
        stats = replay_file(cfg, run.topic, SAMPLE)
        assert stats.events == 100
        # Records the job must dead-letter, never count: not JSON, invalid UTF-8, not an object,
        # a tombstone, and schema violations the producer would have caught.
        first = stats.max_event_time - 1000
        malformed = [
            b"this is not json",
            b'{"event_id": "1", "campaign_id": "\xff\xfe"}',
            b"[1, 2, 3]",
            None,
            json.dumps(_event("900000000000000001", first, click=2)).encode(),
            json.dumps(_event("900000000000000002", first, cost=-1)).encode(),
            json.dumps({**_event("900000000000000003", first), "event_time": "soon"}).encode(),
            json.dumps(
                {k: v for k, v in _event("900000000000000004", first).items() if k != "campaign_id"}
            ).encode(),
        ]
        produce_raw(cfg, run.topic, malformed, partition=1)
        job_id = submit_job(cfg, run.job_args())
        try:
            wait_running(cfg, job_id)
            send_heartbeats(cfg, run.topic, stats.max_event_time + HEARTBEAT_LEAD_MS)
            wait_for_table(pg_owner, run.table, expected, timeout=240)

            dead = dlq_records(cfg, run.dlq_topic, expect=len(malformed))
            assert sorted(d["error_type"] for d in dead) == ["parsing"] * 4 + ["schema"] * 4, dead
            for d in dead:
                assert set(d) == {
                    "raw_payload", "error_type", "error_message", "stacktrace", "retry_count",
                    "error_timestamp", "source", "topic", "partition", "offset", "event_id",
                }  # fmt: skip
                assert (d["source"], d["retry_count"], d["topic"], d["partition"]) == (
                    "flink",
                    0,
                    run.topic,
                    1,
                )
                assert d["error_message"]
            assert {d["raw_payload"] for d in dead if d["error_type"] == "parsing"} >= {
                "this is not json",
                "[1, 2, 3]",
            }
            schema_ids = {d["event_id"] for d in dead if d["error_type"] == "schema"}
            assert schema_ids == {f"90000000000000000{i}" for i in range(1, 5)}
            # The job's dead letters name their registered schema: a stock client reads each one.
            stock = consume_stock(cfg["KAFKA_BOOTSTRAP_SERVERS"], cfg["SCHEMA_REGISTRY_URL"], run.dlq_topic)
            assert sorted(value["error_type"] for _, value in stock) == ["parsing"] * 4 + ["schema"] * 4

            # Late: valid events an hour behind the watermark -> DLQ late_event, windows unchanged.
            late = [_event(f"80000000000000000{i}", stats.max_event_time - 3_600_000) for i in range(3)]
            produce_raw(
                cfg, run.topic, [json.dumps(e, separators=(",", ":")).encode() for e in late], partition=2
            )
            dead = dlq_records(cfg, run.dlq_topic, expect=len(malformed) + len(late))
            late_dead = [d for d in dead if d["error_type"] == "late_event"]
            assert len(late_dead) == 3, dead
            assert {d["event_id"] for d in late_dead} == {e["event_id"] for e in late}
            assert all("watermark" in d["error_message"] and d["partition"] == 2 for d in late_dead)
            # The dead letter carries the event as the producer wrote it.
            assert json.loads(late_dead[0]["raw_payload"]) in late
            time.sleep(3)
            assert table_rows(pg_owner, run.table) == expected

            # Redis: every window row cached under the documented keys.
            client = redis.Redis(
                host=cfg["REDIS_HOST"],
                port=int(cfg["REDIS_PORT"]),
                password=cfg["REDIS_PASSWORD"] or None,
                decode_responses=True,
            )
            prefix = f"wm_test_{run.token}"
            for size in (60, 300):
                starts = [int(s) for s in client.zrange(index_key(prefix, size), 0, -1)]
                assert starts == sorted(
                    {int(k[1].timestamp() * 1000) for k in expected if k[0] == size}
                ), f"window index of size {size}"
            row = expected[next(k for k in expected if k[0] == 60 and k[2] == "all")]
            cached = json.loads(
                client.hget(window_key(prefix, 60, int(row.window_start.timestamp() * 1000), "all"), "")
            )
            assert (cached["impressions"], cached["clicks"], cached["cost"], cached["ctr"]) == (
                row.impressions,
                row.clicks,
                str(row.cost),
                None if row.ctr is None else str(row.ctr),
            )
            assert 0 < client.pttl(index_key(prefix, 60)) <= 7_200_000

            # Archive: every valid event (on time and late) once, typed, under the hour of its event
            # time (include/archive.py), once committed.
            def archived() -> list[tuple]:
                import duckdb

                files = [str(p) for p in archive.glob("dt=*/hour_of_day=*/*") if archive_mod.is_data_file(p)]
                if not files:
                    return []
                return duckdb.execute(
                    f"SELECT {', '.join(ARCHIVE_CHECKED)} FROM read_parquet($1, hive_partitioning = false)",
                    [files],
                ).fetchall()

            rows = wait_for(lambda: (got := archived()) and len(got) >= 103 and got, 60, "archived events")
            events = [json.loads(p) for p in _sample_payloads()] + late
            assert sorted(rows) == sorted(
                tuple(Decimal(str(e[c])) if c in ("cost", "revenue") else e[c] for c in ARCHIVE_CHECKED)
                for e in events
            )
            partitions = {(p.parent.parent.name, p.parent.name) for p in archive.glob("dt=*/hour_of_day=*/*")}
            assert partitions == {("dt=2014-10-21", "hour_of_day=00"), ("dt=2014-10-20", "hour_of_day=23")}
        finally:
            cancel_job(cfg, job_id)


def test_generated_multi_hour_replay_equals_oracle(bootstrapped, cfg, kafka_admin, pg_owner, tmp_path):
    path = tmp_path / "gen.csv"
    generate(path, 60_000, "14102200", 3, seed=11, progress=False)
    expected = oracle.compute_file(path)
    with isolated_run(cfg, kafka_admin, pg_owner) as run:
        # The whole file is in Kafka before the job starts: the job then runs at its own pace,
        # and the elapsed time is the job's (backlog -> every window in PostgreSQL).
        stats = replay_file(cfg, run.topic, path)
        send_heartbeats(cfg, run.topic, stats.max_event_time + HEARTBEAT_LEAD_MS)
        assert len(stats.per_partition) == 3
        job_id = submit_job(cfg, run.job_args())
        try:
            wait_running(cfg, job_id)
            started = time.monotonic()
            wait_for_table(pg_owner, run.table, expected, timeout=600)
            elapsed = time.monotonic() - started
            print(f"\n{stats.events} events -> {len(expected)} window rows in {elapsed:.1f} s "
                  f"({stats.events / elapsed:,.0f} events/s, backlog to final table)")  # fmt: skip
            assert (
                sum(r.impressions for k, r in expected.items() if k[0] == 300 and k[2] == "all")
                == stats.events
            )
            assert dlq_records(cfg, run.dlq_topic, expect=0, timeout=5) == []
        finally:
            cancel_job(cfg, job_id)


def test_a_partition_without_data_does_not_stall_windows(bootstrapped, cfg, kafka_admin, pg_owner):
    expected = oracle.compute_file(SAMPLE)
    with isolated_run(cfg, kafka_admin, pg_owner, partitions=3) as run:
        payloads = _sample_payloads()
        # Partitions 0 and 1 get every event, partition 2 never gets one: only the watermark
        # markers every producer of ours sends to every partition (include/ingest/end_of_input.py).
        produce_raw(cfg, run.topic, payloads[:50], partition=0)
        produce_raw(cfg, run.topic, payloads[50:], partition=1)
        last = max(json.loads(p)["event_time"] for p in payloads)
        job_id = submit_job(cfg, run.job_args())
        try:
            wait_running(cfg, job_id)
            send_heartbeats(cfg, run.topic, last + HEARTBEAT_LEAD_MS, partitions=[0, 1, 2])
            wait_for_table(pg_owner, run.table, expected, timeout=180)
        finally:
            cancel_job(cfg, job_id)


def test_resuming_from_a_retained_checkpoint_neither_loses_nor_double_counts(
    bootstrapped, cfg, kafka_admin, pg_owner, tmp_path
):
    """Cancel mid-replay (the checkpoint is retained), resubmit from it: the table equals the oracle."""
    path = tmp_path / "gen.csv"
    generate(path, 40_000, "14102400", 2, seed=5, progress=False)
    with isolated_run(cfg, kafka_admin, pg_owner) as run:
        restored: list[str] = []

        def cancel_and_resume(job_id: str) -> None:
            checkpoint = latest_checkpoint_path(cfg, job_id)
            assert checkpoint
            cancel_job(cfg, job_id)
            new_id = submit_job(cfg, run.job_args(), savepoint=checkpoint)
            wait_running(cfg, new_id)
            restored.append(new_id)

        replay_with_disruption(cfg, pg_owner, run, path, cancel_and_resume, after_checkpoints=2)
        counts = requests.get(f"{cfg['FLINK_REST_URL']}/jobs/{restored[0]}/checkpoints", timeout=10).json()
        assert counts["counts"]["restored"] == 1
        assert dlq_records(cfg, run.dlq_topic, expect=0, timeout=5) == []
