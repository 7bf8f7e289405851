"""Helpers of the ad_window_metrics integration tests, reusable by other tests (TaskManager kill,
savepoint/resubmit, benchmark): isolated topics and sink tables, replay of an Avazu file into Kafka
exactly as the replayer does it, heartbeats that end the input, job submission and cancellation,
and reading the results back for comparison with the oracle.

Typical use (see test_window_metrics.py)::

    with isolated_run(cfg, kafka_admin, pg_owner) as run:
        stats = replay_file(cfg, run.topic, path)
        job_id = (submit or (lambda args: submit_job(cfg, args)))(run.job_args())
        send_heartbeats(cfg, run.topic, stats.max_event_time + HEARTBEAT_LEAD_MS)
        wait_for_table(pg_owner, run.table, oracle.compute_file(path))
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import NewTopic

from include.flink_jobs.ad_window_metrics import oracle
from include.flink_jobs.ad_window_metrics.sql import HEARTBEAT_HEADER
from include.flink_jobs.ad_window_metrics.table import create_copy as create_sink_table
from include.flink_jobs.ad_window_metrics.table import read_rows as table_rows
from include.kafka.client_conf import client_conf

REPO = Path(__file__).resolve().parents[2]
JOB = REPO / "include" / "flink_jobs" / "ad_window_metrics" / "job.py"
# A heartbeat this far past the last event closes every 5-minute window (watermark delay 5 s).
HEARTBEAT_LEAD_MS = 10 * 60 * 1000


@dataclass
class ReplayStats:
    events: int = 0
    rejected: int = 0
    max_event_time: int = 0
    per_partition: dict[int, int] = field(default_factory=dict)


@dataclass
class IsolatedRun:
    """Names private to one test: topic, DLQ topic, sink table, job name, Redis prefix."""

    token: str
    topic: str
    dlq_topic: str
    table: str
    partitions: int
    archive_dir: Path | None = None

    @property
    def job_name(self) -> str:
        return f"wm_test_{self.token}"

    def job_args(self, **extra: str) -> list[str]:
        from include import config
        from include.schema_registry import fetch_schema

        cfg = config.resolve()
        args = {
            "--dlq-schema-id": str(fetch_schema(cfg["SCHEMA_REGISTRY_URL"], cfg["DLQ_SCHEMA_SUBJECT"])[0]),
            "--source-topic": self.topic,
            "--dlq-topic": self.dlq_topic,
            "--sink-table": self.table,
            "--pipeline-name": self.job_name,
            "--redis-prefix": f"wm_test_{self.token}",
            "--archive-uri": self.archive_dir.as_uri() if self.archive_dir else "",
            **{f"--{k.replace('_', '-')}": v for k, v in extra.items()},
        }
        return [x for kv in args.items() for x in kv]


@contextlib.contextmanager
def isolated_run(
    cfg: dict[str, str],
    kafka_admin: Any,
    pg_owner: Any,
    partitions: int = 3,
    archive_dir: Path | None = None,
) -> Iterator[IsolatedRun]:
    """Create the run's topics and sink table; drop them (and cancel leftover jobs of it) afterwards."""
    token = uuid.uuid4().hex[:8]
    run = IsolatedRun(
        token, f"wm_test_{token}", f"wm_test_{token}_dlq", f"realtime.wm_test_{token}", partitions
    )
    run.archive_dir = archive_dir
    futures = kafka_admin.create_topics([NewTopic(run.topic, partitions, 1), NewTopic(run.dlq_topic, 1, 1)])
    for future in futures.values():
        future.result(timeout=30)
    create_sink_table(pg_owner, run.table)
    try:
        yield run
    finally:
        for job_id in jobs_named(
            cfg, run.job_name, states=("RUNNING", "CREATED", "RESTARTING", "INITIALIZING")
        ):
            cancel_job(cfg, job_id)
        kafka_admin.delete_topics([run.topic, run.dlq_topic])
        pg_owner.execute(f"DROP TABLE IF EXISTS {run.table}")
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis(
                host=cfg["REDIS_HOST"], port=int(cfg["REDIS_PORT"]), password=cfg["REDIS_PASSWORD"] or None
            )
            keys = list(client.scan_iter(match=f"wm_test_{token}:*", count=1000))
            if keys:
                client.delete(*keys)


def producer(cfg: dict[str, str]) -> Producer:
    """Ordered, idempotent producer (each partition keeps the file's order, as the replayer does)."""
    return Producer(
        client_conf(
            cfg,
            extra={
                "enable.idempotence": True,
                "linger.ms": 20,
                "compression.type": "lz4",
                "batch.num.messages": 10000,
            },
        )
    )


def _produce(prod: Producer, topic: str, **kwargs: Any) -> None:
    while True:
        try:
            prod.produce(topic, **kwargs)
            prod.poll(0)
            return
        except BufferError:
            prod.poll(0.05)


def replay_file(cfg: dict[str, str], topic: str, path: str | os.PathLike[str]) -> ReplayStats:
    """Publish an Avazu file's events (key = event_id, file order) the way the replayer does."""
    from include.ingest.avazu_reader import read_avazu
    from include.ingest.economics import load_price_model
    from include.ingest.events import compile_validator, encode_row, load_schema

    stats = ReplayStats()
    validator, model = compile_validator(load_schema()), load_price_model()
    prod = producer(cfg)

    def delivered(err: Any, msg: Any) -> None:
        if err is None:
            stats.per_partition[msg.partition()] = stats.per_partition.get(msg.partition(), 0) + 1

    for row in read_avazu(path):
        encoded = encode_row(row, validator, model)
        if not isinstance(encoded, tuple):
            stats.rejected += 1
            continue
        event, payload = encoded
        _produce(prod, topic, key=event["event_id"].encode(), value=payload, on_delivery=delivered)
        stats.events += 1
        stats.max_event_time = max(stats.max_event_time, event["event_time"])
    assert prod.flush(120) == 0, "records left undelivered"
    assert sum(stats.per_partition.values()) == stats.events
    return stats


def produce_raw(
    cfg: dict[str, str], topic: str, values: list[bytes | None], partition: int = 0, key: bytes | None = None
) -> None:
    """Publish values verbatim (malformed records, late events) to one partition."""
    prod = producer(cfg)
    for value in values:
        _produce(prod, topic, key=key, value=value, partition=partition)
    assert prod.flush(60) == 0


def send_heartbeats(
    cfg: dict[str, str], topic: str, event_time: int, partitions: list[int] | None = None
) -> None:
    """End of input: one heartbeat per partition moves every partition's watermark to ``event_time``."""
    if partitions is None:
        from confluent_kafka.admin import AdminClient

        meta = AdminClient(client_conf(cfg)).list_topics(topic, timeout=10)
        partitions = sorted(meta.topics[topic].partitions)
    prod = producer(cfg)
    value = json.dumps({"event_time": event_time}).encode()
    for partition in partitions:
        _produce(prod, topic, value=value, partition=partition, headers=[(HEARTBEAT_HEADER, b"1")])
    assert prod.flush(60) == 0


# -- the Flink job ---------------------------------------------------------------------------------


def submit_job(cfg: dict[str, str], args: list[str], savepoint: str | None = None) -> str:
    """``flink run -d -py job.py ARGS`` against the session cluster; returns the JobID."""
    env = {**os.environ, "FLINK_CONF_DIR": cfg["FLINK_CONF_DIR"], "FLINK_LIB_DIR": cfg["FLINK_LIB_DIR"]}
    cmd = [cfg["FLINK_CLI"], "run", "-d", *(["-s", savepoint] if savepoint else []), "-py", str(JOB), *args]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    match = re.search(r"JobID ([0-9a-f]{32})", out.stdout + out.stderr)
    assert match, f"submission failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return match.group(1)


def jobs_named(cfg: dict[str, str], name: str, states: tuple[str, ...] | None = None) -> list[str]:
    jobs = requests.get(f"{cfg['FLINK_REST_URL']}/jobs/overview", timeout=10).json()["jobs"]
    return [j["jid"] for j in jobs if j["name"] == name and (states is None or j["state"] in states)]


def job_state(cfg: dict[str, str], job_id: str) -> str:
    return requests.get(f"{cfg['FLINK_REST_URL']}/jobs/{job_id}", timeout=10).json()["state"]


def cancel_job(cfg: dict[str, str], job_id: str) -> None:
    requests.patch(f"{cfg['FLINK_REST_URL']}/jobs/{job_id}?mode=cancel", timeout=10)
    wait_for(
        lambda: job_state(cfg, job_id) in ("CANCELED", "FAILED", "FINISHED"), 60, f"job {job_id} to stop"
    )


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def wait_running(cfg: dict[str, str], job_id: str, timeout: float = 240) -> None:
    """RUNNING with every task running (sources actually reading).

    The wait is generous: a cold machine once needed more than two minutes to start the job's
    Python worker, and a slow start is not what these tests are about. On a timeout the message
    shows what the job was waiting for."""

    def running() -> bool:
        info = requests.get(f"{cfg['FLINK_REST_URL']}/jobs/{job_id}", timeout=10).json()
        assert info["state"] not in ("FAILED", "CANCELED"), f"job {job_id} is {info['state']}"
        return info["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in info["vertices"])

    try:
        wait_for(running, timeout, f"job {job_id} running")
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}\n{cluster_picture(cfg, job_id)}") from None


def cluster_picture(cfg: dict[str, str], job_id: str) -> str:
    """What a job waits for when it does not start: its tasks, the free slots, the other live jobs
    and the job's last exception (a timeout message without these leaves nothing to go on)."""
    rest = cfg["FLINK_REST_URL"]
    info = requests.get(f"{rest}/jobs/{job_id}", timeout=10).json()
    tasks = ", ".join(f"{v['name'][:40]}={v['status']}" for v in info.get("vertices", []))
    overview = requests.get(f"{rest}/overview", timeout=10).json()
    others = [
        f"{j['jid']} {j['name']} {j['state']}"
        for j in requests.get(f"{rest}/jobs/overview", timeout=10).json()["jobs"]
        if j["jid"] != job_id and j["state"] not in ("CANCELED", "FAILED", "FINISHED")
    ]
    exceptions = requests.get(f"{rest}/jobs/{job_id}/exceptions", timeout=10).json()
    root = (exceptions.get("exceptionHistory", {}).get("entries") or [{}])[0].get("stacktrace", "")
    return (
        f"job state {info.get('state')}; tasks: {tasks}\n"
        f"slots {overview['slots-available']}/{overview['slots-total']} free on "
        f"{overview['taskmanagers']} TaskManager(s); other live jobs: {others or 'none'}\n"
        f"last exception: {root[:1500] or 'none'}"
    )


def completed_checkpoints(cfg: dict[str, str], job_id: str) -> int:
    """How many checkpoints of the job completed (for "kill the TaskManager after N checkpoints")."""
    return requests.get(f"{cfg['FLINK_REST_URL']}/jobs/{job_id}/checkpoints", timeout=10).json()["counts"][
        "completed"
    ]


def latest_checkpoint_path(cfg: dict[str, str], job_id: str) -> str | None:
    """External path of the newest completed checkpoint (``flink run -s`` accepts it), or None."""
    latest = requests.get(f"{cfg['FLINK_REST_URL']}/jobs/{job_id}/checkpoints", timeout=10).json()["latest"]
    done = latest.get("completed")
    return done["external_path"] if done else None


def replay_with_disruption(
    cfg: dict[str, str],
    pg: Any,
    run: IsolatedRun,
    path: str | os.PathLike[str],
    disrupt: Callable[[str], None],
    after_checkpoints: int = 1,
    timeout: float = 600,
    submit: Callable[[list[str]], str] | None = None,
) -> None:
    """Run the job on ``path`` and call ``disrupt(job_id)`` mid-replay (e.g. kill the TaskManager
    with supervisorctl, or stop-with-savepoint and resubmit); the table must still equal the oracle.

    The file is published in two halves: the disruption happens after the first half has been
    checkpointed at least ``after_checkpoints`` times, while the second half is still to come.
    ``disrupt`` may replace the job: jobs are found again by name for the final cleanup.
    ``submit`` takes the job's arguments and returns its id (default: ``submit_job`` to the
    cluster at FLINK_REST_URL of ``cfg``).
    """
    expected = oracle.compute_file(path)
    events = list(oracle.events_from_avazu(path))
    half = len(events) // 2
    prod = producer(cfg)

    def publish(batch: list[dict[str, Any]]) -> None:
        for event in batch:
            value = json.dumps(event, separators=(",", ":")).encode()
            _produce(prod, run.topic, key=event["event_id"].encode(), value=value)
        assert prod.flush(120) == 0

    publish(events[:half])
    job_id = (submit or (lambda args: submit_job(cfg, args)))(run.job_args())
    wait_running(cfg, job_id)
    wait_for(lambda: completed_checkpoints(cfg, job_id) >= after_checkpoints, 180, "checkpoints")
    disrupt(job_id)
    publish(events[half:])
    send_heartbeats(cfg, run.topic, max(e["event_time"] for e in events) + HEARTBEAT_LEAD_MS)
    wait_for_table(pg, run.table, expected, timeout=timeout)


# -- results -------------------------------------------------------------------------------------


def diff(actual: dict[Any, Any], expected: dict[Any, Any], limit: int = 5) -> str:
    """A short description of how two row maps differ ("" when equal)."""
    missing = [k for k in expected if k not in actual]
    extra = [k for k in actual if k not in expected]
    changed = [k for k in expected if k in actual and actual[k] != expected[k]]
    if not (missing or extra or changed):
        return ""
    lines = [f"{len(actual)} rows vs {len(expected)} expected: {len(missing)} missing, {len(extra)} extra, "
             f"{len(changed)} different"]  # fmt: skip
    lines += [f"  missing {k}" for k in missing[:limit]]
    lines += [f"  extra {actual[k]}" for k in extra[:limit]]
    lines += [f"  got {actual[k]}\n  exp {expected[k]}" for k in changed[:limit]]
    return "\n".join(lines)


def wait_for_table(
    pg: Any, table: str, expected: dict[oracle.Key, oracle.WindowRow], timeout: float = 300
) -> dict[oracle.Key, oracle.WindowRow]:
    """Poll until ``table`` equals ``expected``; on timeout fail with the difference."""
    deadline = time.monotonic() + timeout
    while True:
        actual = table_rows(pg, table)
        problem = diff(actual, expected)
        if not problem:
            return actual
        if time.monotonic() > deadline:
            raise AssertionError(f"{table} never matched the oracle:\n{problem}")
        time.sleep(2)


def dlq_records(cfg: dict[str, str], topic: str, expect: int, timeout: float = 60) -> list[dict[str, Any]]:
    """Read committed dead letters until ``expect`` arrived (and 3 s more, to catch extras)."""
    consumer = Consumer(
        client_conf(
            cfg,
            extra={
                "group.id": f"wm_test_reader_{uuid.uuid4().hex[:8]}",
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
            },
        )
    )
    consumer.subscribe([topic])
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    settle: float | None = None
    try:
        while time.monotonic() < deadline and (settle is None or time.monotonic() < settle):
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            records.append(json.loads(msg.value()))
            if len(records) >= expect and settle is None:
                settle = time.monotonic() + 3
    finally:
        consumer.close()
    return records


def decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)
