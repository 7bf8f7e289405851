"""Realtime benchmark (``make bench`` section ``realtime``): Kafka -> Flink -> PostgreSQL.

Measured on a generated file (seeded; private topics, sink table, job names, Redis prefix and
archive directory):

- ``events_per_s``: the whole file is in Kafka before the job starts; the job as deployed (archive
  on, exactly-once checkpoints, DLQ, Redis); the time from the job running to its last window row
  in PostgreSQL (the sustained rate of a backlog, the same work as a live stream, without waiting
  for event time);
- ``blackhole_events_per_s``: then, on the same topic, the same SQL with blackhole sinks
  (``--blackhole-sinks``, no Redis writer): the time from running to its last window row handed
  to its sink (Flink's ``numRecordsIn`` of the sink operator); ``ratio_to_blackhole`` =
  events_per_s / blackhole_events_per_s (what the real sinks cost);
- ``before_events_per_s`` (only with ``before_job``, another checkout's job.py): that job, same
  topic, same measure as ``events_per_s``;
- ``busy``: per job vertex, the busy/backpressured share of wall time while the deployed job
  worked (Flink's ``busyTimeMsPerSecond``/``backPressuredTimeMsPerSecond``, sampled);
- ``cpu_us_per_event``: for ours and the blackhole twin, the CPU microseconds per event each process
  of the stack spent while that job worked (bench/cpu.py), and their total;
- ``oracle_s``: the independent DuckDB implementation on the same file, same run; ``ratio`` =
  job_s / oracle_s (how much the streaming machinery costs over a batch computation);
- ``latency_ms`` p50/p99: once the job has caught up, one minute of events at a time, then a
  watermark marker that closes its window: the time from publishing the marker (the watermark
  passing the window end) to the window's row being written in PostgreSQL (``updated_at``, set by
  PostgreSQL itself);
- ``equal_to_oracle``: whether the job's table equals the oracle row for row.

Run: ``local_stack/bin/run.sh .venvs/airflow/bin/python -m bench.run realtime [--realtime-rows N]``.
The jobs run one after the other (never two at once on the shared cores).
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cpu import CpuMeter
from include import config
from include.flink_jobs.ad_window_metrics import oracle
from include.flink_jobs.ad_window_metrics.spec import job_spec
from include.flink_jobs.ad_window_metrics.table import create_copy, read_rows
from include.flink_jobs.common.client import client_from
from include.flink_jobs.common.state import local_path, state_dirs
from include.flink_jobs.common.submit import JobSpec, submit
from include.ingest.end_of_input import JOB_WATERMARK_DELAY_MS, send_markers
from include.ingest.generator import generate
from include.ingest.producer import ReplayOptions, replay
from include.kafka.client_conf import client_conf

START_HOUR = "14102300"


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
        self.admin = AdminClient(client_conf(cfg))
        for future in self.admin.create_topics(
            [NewTopic(self.topic, 3, 1), NewTopic(self.dlq, 1, 1)]
        ).values():
            future.result(timeout=30)
        self.pg = psycopg.connect(config.pg_dsn("PG_OWNER"), autocommit=True)
        create_copy(self.pg, self.table)
        self.archive = Path(tempfile.mkdtemp(prefix=f"{self.name}_archive_", dir=Path(cfg["DATA_DIR"])))
        self.jobs: list[str] = []

    def submit(self, suffix: str = "", py_file: Path | None = None, *flags: str) -> str:
        base = job_spec()
        args = dict(zip(base.args[::2], base.args[1::2], strict=True))
        args.update(
            {
                "--source-topic": self.topic,
                "--dlq-topic": self.dlq,
                "--sink-table": self.table,
                "--pipeline-name": self.name + suffix,
                "--redis-prefix": self.name,
                "--archive-uri": self.archive.as_uri(),
            }
        )
        argv = (*(x for kv in args.items() for x in kv), *flags)
        job_id = submit(JobSpec(self.name + suffix, py_file or base.py_file, argv, base.env))
        self.jobs.append(job_id)
        return job_id

    def cancel(self, job_id: str) -> None:
        client_from(self.cfg).cancel(job_id)
        _wait(lambda: client_from(self.cfg).get(f"/jobs/{job_id}")["state"] == "CANCELED", 120, "the cancel")

    def count(self) -> int:
        return self.pg.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0]

    def truncate(self) -> None:
        self.pg.execute(f"TRUNCATE {self.table}")

    def close(self) -> None:
        for job_id in self.jobs:
            if client_from(self.cfg).get(f"/jobs/{job_id}")["state"] not in (
                "CANCELED",
                "FAILED",
                "FINISHED",
            ):
                client_from(self.cfg).cancel(job_id)
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
        shutil.rmtree(self.archive, ignore_errors=True)
        for suffix in ("", "_blackhole", "_before"):
            for uri in state_dirs(self.name + suffix, self.cfg):
                shutil.rmtree(local_path(uri), ignore_errors=True)


_SINK_IN = re.compile(r"^\d+\.(Sink__)?metrics_sink\[\d+\](__Writer)?\.numRecordsIn$")


def _sink_rows(cfg: dict[str, str], job_id: str) -> int:
    """Rows handed to the ``metrics_sink`` operator so far, over every vertex and subtask."""
    total = 0
    for vertex in client_from(cfg).get(f"/jobs/{job_id}")["vertices"]:
        path = f"/jobs/{job_id}/vertices/{vertex['id']}/metrics"
        ids = [m["id"] for m in client_from(cfg).get(path) if _SINK_IN.match(m["id"])]
        if ids:
            total += sum(int(float(m["value"])) for m in client_from(cfg).get(f"{path}?get={','.join(ids)}"))
    return total


def _busy_sampler(cfg: dict[str, str], job_id: str) -> dict[str, dict[str, list[float]]]:
    """One sample of busy and backpressured ms per second of every vertex (first 60 characters of its name)."""
    out: dict[str, dict[str, list[float]]] = {}
    for vertex in client_from(cfg).get(f"/jobs/{job_id}")["vertices"]:
        path = f"/jobs/{job_id}/vertices/{vertex['id']}/subtasks/metrics"
        got = client_from(cfg).get(f"{path}?get=busyTimeMsPerSecond,backPressuredTimeMsPerSecond&agg=max")
        values = {m["id"]: m.get("max") for m in got}
        entry = out.setdefault(vertex["name"][:60], {"busy": [], "backpressured": []})
        for key, metric in (
            ("busy", "busyTimeMsPerSecond"),
            ("backpressured", "backPressuredTimeMsPerSecond"),
        ):
            if isinstance(values.get(metric), int | float):
                entry[key].append(float(values[metric]))
    return out


def _merge(into: dict[str, dict[str, list[float]]], sample: dict[str, dict[str, list[float]]]) -> None:
    for name, entry in sample.items():
        for key, values in entry.items():
            into.setdefault(name, {"busy": [], "backpressured": []})[key].extend(values)


def _wait_running(cfg: dict[str, str], job_id: str) -> None:
    def running() -> bool:
        info = client_from(cfg).get(f"/jobs/{job_id}")
        if info["state"] in ("FAILED", "CANCELED"):
            raise RuntimeError(f"benchmark job {job_id} is {info['state']}")
        return info["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in info["vertices"])

    _wait(running, 300, "the benchmark job to run")


def _latencies(run: _Private, template: dict[str, Any], after_ms: int, windows: int) -> list[float]:
    """Milliseconds from the marker that closes a 1-minute window to its row in PostgreSQL."""
    from confluent_kafka import Producer

    producer = Producer(client_conf(run.cfg, extra={"linger.ms": 5}))
    kafka_conf = client_conf(run.cfg)
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


def _timed(run: _Private, job_id: str, done: Any, busy: dict | None = None, cpu: dict | None = None) -> float:
    """Seconds from the job running to ``done()``; samples vertex busyness into ``busy`` and puts
    each process's CPU seconds over the same span into ``cpu``."""
    _wait_running(run.cfg, job_id)
    meter = CpuMeter()
    started = time.monotonic()
    last_sample = 0.0

    def finished() -> bool:
        nonlocal last_sample
        if busy is not None and time.monotonic() - last_sample > 5:
            last_sample = time.monotonic()
            _merge(busy, _busy_sampler(run.cfg, job_id))
        return done()

    _wait(finished, 3600, "every window row", interval=0.5)
    seconds = time.monotonic() - started
    if cpu is not None:
        cpu.update(meter.split())
    return seconds


def run(
    rows: int = 2_000_000, hours: int = 4, latency_windows: int = 40, before_job: Path | None = None
) -> dict[str, Any]:
    cfg = config.resolve()
    path = Path(cfg["DATA_DIR"]) / "bench" / f"realtime_{rows}_{hours}h.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        generate(path, rows, START_HOUR, hours, seed=20141023, progress=True)

    print(f"oracle: the independent computation of {path.name}", flush=True)
    started = time.monotonic()
    expected = oracle.compute_file(path)
    oracle_s = time.monotonic() - started
    events = sum(r.impressions for r in expected.values() if r.window_size_s == 300 and r.dimension == "all")

    private = _Private(cfg)
    busy: dict[str, dict[str, list[float]]] = {}
    job_cpu: dict[str, float] = {}
    blackhole_cpu: dict[str, float] = {}
    before_s = None
    try:
        print(f"publishing {events:,} events to {private.topic}", flush=True)
        report = replay(
            ReplayOptions(file=path, topic=private.topic, dlq_topic=private.dlq, pushgateway_url="")
        )
        assert report.ok and report.published == events, report.render()
        print(
            f"ours: the job as deployed, until its {len(expected):,} window rows are in PostgreSQL",
            flush=True,
        )
        job_id = private.submit()
        job_s = _timed(private, job_id, lambda: private.count() >= len(expected), busy, job_cpu)
        actual = read_rows(private.pg, private.table)

        template = next(oracle.events_from_avazu(path))
        last_ms = max(k[1] for k in expected).timestamp() * 1000 + 300_000
        print(f"latency: {latency_windows} windows closed one at a time", flush=True)
        latencies = _latencies(private, template, int(last_ms), latency_windows)
        private.cancel(job_id)

        # The latency windows added rows: the blackhole job sees them too, so it waits for them.
        window_rows = private.count()
        print(f"blackhole: the same SQL, until its sinks took {window_rows:,} rows", flush=True)
        blackhole_id = private.submit("_blackhole", None, "--blackhole-sinks")
        blackhole_s = _timed(
            private, blackhole_id, lambda: _sink_rows(cfg, blackhole_id) >= window_rows, cpu=blackhole_cpu
        )
        private.cancel(blackhole_id)

        if before_job:
            private.truncate()
            before_id = private.submit("_before", before_job)
            before_s = _timed(private, before_id, lambda: private.count() >= window_rows)
            private.cancel(before_id)
    finally:
        private.close()
    blackhole_events = events + latency_windows * 300
    result = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cores": 2,
        "events": events,
        "hours": hours,
        "window_rows": len(expected),
        "job_s": round(job_s, 2),
        "events_per_s": round(events / job_s),
        "blackhole_s": round(blackhole_s, 2),
        "blackhole_events_per_s": round(blackhole_events / blackhole_s),
        "ratio_to_blackhole": round((events / job_s) / (blackhole_events / blackhole_s), 3),
        "oracle_s": round(oracle_s, 2),
        "ratio_job_to_oracle": round(job_s / oracle_s, 2),
        "equal_to_oracle": actual == expected,
        "latency_ms": {
            "windows": len(latencies),
            "p50": round(statistics.median(latencies)),
            "p99": round(_percentile(latencies, 0.99)),
            "max": round(max(latencies)),
        },
        "busy_ms_per_s": {
            name: {k: round(statistics.median(v)) for k, v in entry.items() if v}
            for name, entry in busy.items()
        },
        # The meter runs while the job works: the bench process only polls, every other process
        # (the broker serving the reads, PostgreSQL and Redis taking the rows, Airflow idling) counts.
        "cpu_us_per_event": {
            "ours": CpuMeter.per_event_us(job_cpu, events),
            "blackhole": CpuMeter.per_event_us(blackhole_cpu, blackhole_events),
        },
        "target": {"events_per_s": 60_000, "ratio_to_blackhole": 0.7, "p99_latency_ms": 1000},
    }
    if before_s is not None:
        result["before_events_per_s"] = round(blackhole_events / before_s)
        result["ratio_to_before"] = round((events / job_s) / (blackhole_events / before_s), 3)
    return result
