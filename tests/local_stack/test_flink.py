"""The Flink session cluster runs a PyFlink SQL job from Kafka into PostgreSQL through JDBC."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
from confluent_kafka import Producer
from confluent_kafka.admin import NewTopic

from include import config
from include.kafka.client_conf import client_conf

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
JOB = Path(__file__).with_name("flink_smoke_job.py")
PYFLINK_HOME = Path(
    os.environ.get("PYFLINK_HOME", REPO / ".venvs/flink/lib/python3.11/site-packages/pyflink")
)


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture
def smoke_topic(kafka_admin):
    topic = f"smoke_flink_{uuid.uuid4().hex[:8]}"
    kafka_admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)
    yield topic
    kafka_admin.delete_topics([topic])


def _produce(cfg, topic: str, rows: list[tuple[str, int]]) -> None:
    producer = Producer(client_conf(cfg))
    for k, v in rows:
        producer.produce(topic, key=k.encode(), value=json.dumps({"k": k, "v": v}).encode())
    assert producer.flush(30) == 0


def _submit(cfg, env_extra: dict[str, str]) -> str:
    env = {
        **os.environ,
        **env_extra,
        "FLINK_CONF_DIR": f"{cfg['DATA_DIR']}/run/conf/flink",
        "FLINK_LIB_DIR": str(REPO / "local_stack/.jars/flink-lib"),
    }
    out = subprocess.run(
        [str(PYFLINK_HOME / "bin/flink"), "run", "-d", "-py", str(JOB)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    match = re.search(r"JobID ([0-9a-f]{32})", out.stdout + out.stderr)
    assert match, f"submission failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return match.group(1)


def test_kafka_to_postgres_upsert_through_jdbc(bootstrapped, cfg, pg_owner, smoke_topic):
    table = f"realtime.{smoke_topic}"
    pg_owner.execute(f"CREATE TABLE {table} (k text PRIMARY KEY, total bigint NOT NULL, n bigint NOT NULL)")
    rows = [(k, v) for v in range(1, 21) for k in ("a", "b", "c")]
    _produce(cfg, smoke_topic, rows[:30])
    job_id = _submit(
        cfg,
        {
            "SMOKE_TOPIC": smoke_topic,
            "SMOKE_BOOTSTRAP": cfg["KAFKA_BOOTSTRAP_SERVERS"],
            "SMOKE_JDBC_URL": config.pg_jdbc_url(cfg),
            "SMOKE_TABLE": table,
            # The least-privilege stream writer, not the owner: proves its grants suffice.
            "SMOKE_USER": cfg["PG_STREAM_WRITER_USER"],
            "SMOKE_PASSWORD": cfg["PG_STREAM_WRITER_PASSWORD"],
        },
    )
    rest = cfg["FLINK_REST_URL"]
    try:
        _produce(cfg, smoke_topic, rows[30:])
        expected = {k: (sum(v for kk, v in rows if kk == k), 20) for k in ("a", "b", "c")}

        def landed():
            got = {k: (t, n) for k, t, n in pg_owner.execute(f"SELECT k, total, n FROM {table}").fetchall()}
            return got == expected

        _wait(landed, 120, f"{expected} in {table}")

        def checkpointed():
            counts = requests.get(f"{rest}/jobs/{job_id}/checkpoints", timeout=5).json()["counts"]
            return counts["completed"] >= 1

        _wait(checkpointed, 60, "a completed checkpoint")
        checkpoint = requests.get(f"{rest}/jobs/{job_id}/checkpoints", timeout=5).json()["latest"][
            "completed"
        ]
        path = checkpoint["external_path"].removeprefix("file:")
        assert path.startswith(cfg["DATA_DIR"] + "/checkpoints/")
        assert Path(path, "_metadata").exists()
    finally:
        requests.patch(f"{rest}/jobs/{job_id}?mode=cancel", timeout=10)
        pg_owner.execute(f"DROP TABLE IF EXISTS {table}")
