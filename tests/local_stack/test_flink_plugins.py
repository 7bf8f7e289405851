"""The Flink plugins against the real session cluster: idempotent submit, stop with a savepoint,
resume from it without losing or double-counting an event."""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic

from include import config
from include.flink_jobs.common.state import latest_state, local_path, state_dirs
from include.flink_jobs.common.submit import JobSpec
from include.kafka.client_conf import client_conf
from plugins.flink.ensure import ensure_job
from plugins.flink.hooks import FlinkRestHook

pytestmark = pytest.mark.integration

JOB_FILE = Path(__file__).with_name("flink_smoke_job.py")
_SPEC: dict[str, JobSpec] = {}


def smoke_spec() -> JobSpec:
    """Spec callable handed to ensure_job as a dotted path, like the DAGs do."""
    return _SPEC["current"]


def _produce(topic: str, rows: list[tuple[str, int]]) -> None:
    producer = Producer(client_conf(bootstrap=config.get("KAFKA_BOOTSTRAP_SERVERS")))
    for k, v in rows:
        producer.produce(topic, key=k.encode(), value=json.dumps({"k": k, "v": v}).encode())
    assert producer.flush(30) == 0


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def hook() -> FlinkRestHook:
    os.environ.setdefault("AIRFLOW_CONN_FLINK_REST", config.airflow_connections()["AIRFLOW_CONN_FLINK_REST"])
    return FlinkRestHook()


def test_submit_is_idempotent_and_savepoint_resume_is_exactly_once(
    bootstrapped, cfg, hook, kafka_admin, pg_owner
):
    name = f"smoke_plugins_{uuid.uuid4().hex[:8]}"
    topic, table = name, f"realtime.{name}"
    kafka_admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)
    pg_owner.execute(f"CREATE TABLE {table} (k text PRIMARY KEY, total bigint NOT NULL, n bigint NOT NULL)")
    _SPEC["current"] = JobSpec(
        name=name,
        py_file=JOB_FILE,
        env=(
            ("SMOKE_TOPIC", topic),
            ("SMOKE_BOOTSTRAP", cfg["KAFKA_BOOTSTRAP_SERVERS"]),
            ("SMOKE_JDBC_URL", config.pg_jdbc_url(cfg)),
            ("SMOKE_TABLE", table),
            ("SMOKE_USER", cfg["PG_STREAM_WRITER_USER"]),
            ("SMOKE_PASSWORD", cfg["PG_STREAM_WRITER_PASSWORD"]),
            ("SMOKE_PIPELINE_NAME", name),
        ),
    )
    spec_path = f"{__name__}.smoke_spec"
    job_ids = []
    try:
        first = ensure_job(name, spec_path, restore="latest")
        job_ids.append(first.job_id)
        assert first.submitted and first.restored_from is None
        again = ensure_job(name, spec_path, restore="latest")
        assert (again.submitted, again.job_id) == (False, first.job_id)
        assert [j.job_id for j in hook.active_jobs(name)] == [first.job_id]

        rows = [(k, v) for v in range(1, 11) for k in ("a", "b")]
        _produce(topic, rows)
        totals = lambda: dict(pg_owner.execute(f"SELECT k, total FROM {table}").fetchall())  # noqa: E731
        _wait(lambda: totals() == {"a": 55, "b": 55}, 120, "first batch in PostgreSQL")

        savepoint = local_path(hook.stop_with_savepoint(first.job_id, state_dirs(name)[1]))
        assert savepoint.parent == local_path(state_dirs(name)[1])
        assert (savepoint / "_metadata").exists()
        # Found through the REST API (the stopped job's savepoint), as on a remote cluster.
        assert local_path(hook.newest_state(name)) == savepoint
        assert local_path(latest_state(name, client=hook)) == savepoint
        assert hook.active_jobs(name) == []

        _produce(topic, [(k, 100) for k in ("a", "b")])  # arrives while the job is down
        resumed = ensure_job(name, spec_path, restore="latest")
        job_ids.append(resumed.job_id)
        assert resumed.submitted and local_path(resumed.restored_from) == savepoint
        # Restored offsets and sums: the 20 earlier events are neither lost nor counted twice.
        _wait(lambda: totals() == {"a": 155, "b": 155}, 120, "totals continued from the savepoint")
        n = dict(pg_owner.execute(f"SELECT k, n FROM {table}").fetchall())
        assert n == {"a": 11, "b": 11}
    finally:
        for job_id in job_ids:
            with contextlib.suppress(Exception):
                hook.cancel(job_id)
        pg_owner.execute(f"DROP TABLE IF EXISTS {table}")
        kafka_admin.delete_topics([topic])
