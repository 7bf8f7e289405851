"""Realtime benchmark (``make bench`` section ``realtime``): Kafka -> Flink -> PostgreSQL.

Measured on a generated file (seeded; private topics, sink table, job name and Redis prefix):

- ``events_per_s``: the whole file is in Kafka before the job starts; the time from the job
  running to its last window row in PostgreSQL (the sustained rate of a backlog, the same work as
  a live stream, without waiting for event time);
- ``oracle_s``: the independent DuckDB implementation on the same file, same run; ``ratio`` =
  job_s / oracle_s (how much the streaming machinery costs over a batch computation);
- ``latency_ms`` p50/p99: once the job has caught up, one minute of events at a time, then a
  watermark marker that closes its window: the time from publishing the marker (the watermark
  passing the window end) to the window's row being written in PostgreSQL (``updated_at``, set by
  PostgreSQL itself);
- ``equal_to_oracle``: whether the job's table equals the oracle row for row.

Run: ``local_stack/bin/run.sh .venvs/airflow/bin/python -m bench.run realtime [--realtime-rows N]``.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include import config
from include.flink_jobs.ad_window_metrics import oracle
from include.flink_jobs.ad_window_metrics.spec import job_spec
from include.flink_jobs.ad_window_metrics.table import create_copy, read_rows
from include.flink_jobs.common.submit import JobSpec, submit
from include.ingest.end_of_input import JOB_WATERMARK_DELAY_MS, send_markers
from include.ingest.generator import generate
from include.ingest.producer import ReplayOptions, replay

START_HOUR = "14102300"


def _rest(cfg: dict[str, str], method: str, path: str) -> Any:
    import requests

    resp = requests.request(method, f"{cfg['FLINK_REST_URL']}{path}", timeout=10)
    resp.raise_for_status()
    return resp.json() if resp.content else None


def _wait(predicate: Any, timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
    return value


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class _Private:
    """Topics, sink table and Redis prefix of one benchmark run; removed by ``close``."""

    def __init__(self, cfg: dict[str, str]) -> None:
        import psycopg
        from confluent_kafka.admin import AdminClient, NewTopic

        self.cfg = cfg
        self.token = uuid.uuid4().hex[:8]
        self.name = f"rt_bench_{self.token}"
        self.topic, self.dlq, self.table = self.name, f"{self.name}_dlq", f"realtime.{self.name}"
        self.admin = AdminClient({"bootstrap.servers": cfg["KAFKA_BOOTSTRAP_SERVERS"]})
        for future in self.admin.create_topics(
            [NewTopic(self.topic, 3, 1), NewTopic(self.dlq, 1, 1)]
        ).values():
            future.result(timeout=30)
        self.pg = psycopg.connect(config.pg_dsn("PG_OWNER"), autocommit=True)
        create_copy(self.pg, self.table)
        self.job_id: str | None = None

    def submit(self) -> str:
        base = job_spec()
        args = dict(zip(base.args[::2], base.args[1::2], strict=True))
        args.update(
            {
                "--source-topic": self.topic,
                "--dlq-topic": self.dlq,
                "--sink-table": self.table,
                "--pipeline-name": self.name,
                "--redis-prefix": self.name,
                "--archive-uri": "",
            }
        )
        spec = JobSpec(self.name, base.py_file, tuple(x for kv in args.items() for x in kv), base.env)
        self.job_id = submit(spec)
        return self.job_id

    def count(self) -> int:
        return self.pg.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0]

    def close(self) -> None:
        if self.job_id:
            _rest(self.cfg, "PATCH", f"/jobs/{self.job_id}?mode=cancel")
        self.admin.delete_topics([self.topic, self.dlq])
        self.pg.execute(f"DROP TABLE IF EXISTS {self.table}")
        self.pg.close()
        import redis

        client = redis.Redis(
            host=self.cfg["REDIS_HOST"],
            port=int(self.cfg["REDIS_PORT"]),
            password=self.cfg["REDIS_PASSWORD"] or None,
        )
        keys = list(client.scan_iter(match=f"{self.name}:*", count=1000))
        if keys:
            client.delete(*keys)


def _wait_running(cfg: dict[str, str], job_id: str) -> None:
    def running() -> bool:
        info = _rest(cfg, "GET", f"/jobs/{job_id}")
        if info["state"] in ("FAILED", "CANCELED"):
            raise RuntimeError(f"benchmark job {job_id} is {info['state']}")
        return info["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in info["vertices"])

    _wait(running, 300, "the benchmark job to run")


def _latencies(run: _Private, template: dict[str, Any], after_ms: int, windows: int) -> list[float]:
    """Milliseconds from the marker that closes a 1-minute window to its row in PostgreSQL."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": run.cfg["KAFKA_BOOTSTRAP_SERVERS"], "linger.ms": 5})
    kafka_conf = {"bootstrap.servers": run.cfg["KAFKA_BOOTSTRAP_SERVERS"]}
    minute0 = after_ms - after_ms % 60_000 + 60_000
    out: list[float] = []
    for i in range(windows):
        start = minute0 + i * 60_000
        for k in range(300):  # 300 events spread over the minute, all three partitions
            event = {**template, "event_id": f"{run.token}-{i}-{k}", "event_time": start + k * 200}
            producer.produce(run.topic, json.dumps(event).encode(), event["event_id"].encode())
        assert producer.flush(30) == 0
        time.sleep(1.0)  # the events are processed; only the watermark is missing now
        sent = time.time()
        send_markers(kafka_conf, run.topic, 3, start + 60_000 + JOB_WATERMARK_DELAY_MS - 1)
        written = _wait(
            lambda s=start: run.pg.execute(
                f"SELECT max(updated_at) FROM {run.table} WHERE window_size_s = 60 AND window_start = %s",
                (datetime.fromtimestamp(s / 1000, UTC),),
            ).fetchone()[0],
            60,
            "the window row",
            interval=0.05,
        )
        out.append((written.timestamp() - sent) * 1000)
    return out


def run(rows: int = 2_000_000, hours: int = 4, latency_windows: int = 40) -> dict[str, Any]:
    cfg = config.resolve()
    path = Path(cfg["DATA_DIR"]) / "bench" / f"realtime_{rows}_{hours}h.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        generate(path, rows, START_HOUR, hours, seed=20141023, progress=True)

    started = time.monotonic()
    expected = oracle.compute_file(path)
    oracle_s = time.monotonic() - started
    events = sum(r.impressions for r in expected.values() if r.window_size_s == 300 and r.dimension == "all")

    private = _Private(cfg)
    try:
        report = replay(
            ReplayOptions(file=path, topic=private.topic, dlq_topic=private.dlq, pushgateway_url="")
        )
        assert report.ok and report.published == events, report.render()
        job_id = private.submit()
        _wait_running(cfg, job_id)
        started = time.monotonic()
        _wait(lambda: private.count() >= len(expected), 3600, "every window row", interval=0.5)
        job_s = time.monotonic() - started
        actual = read_rows(private.pg, private.table)

        template = next(oracle.events_from_avazu(path))
        last_ms = max(k[1] for k in expected).timestamp() * 1000 + 300_000
        latencies = _latencies(private, template, int(last_ms), latency_windows)
    finally:
        private.close()
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cores": 2,
        "events": events,
        "window_rows": len(expected),
        "job_s": round(job_s, 2),
        "events_per_s": round(events / job_s),
        "oracle_s": round(oracle_s, 2),
        "ratio_job_to_oracle": round(job_s / oracle_s, 2),
        "equal_to_oracle": actual == expected,
        "latency_ms": {
            "windows": len(latencies),
            "p50": round(statistics.median(latencies)),
            "p99": round(_percentile(latencies, 0.99)),
            "max": round(max(latencies)),
        },
        "target": {"events_per_s": 100_000, "p99_latency_ms": 1000},
    }
