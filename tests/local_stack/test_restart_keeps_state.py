"""`make down && make up` keeps PostgreSQL rows, Kafka topics and records, and Flink checkpoints."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from include import config
from include.kafka.client_conf import client_conf

pytestmark = [pytest.mark.integration, pytest.mark.restarts_stack, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _stack(command: str) -> float:
    started = time.monotonic()
    subprocess.run([str(REPO / f"local_stack/bin/{command}.sh")], check=True, timeout=600)
    return time.monotonic() - started


def test_down_up_keeps_state(bootstrapped, cfg):
    marker = uuid.uuid4().hex
    topic = f"restart_{marker[:8]}"
    with psycopg.connect(config.pg_dsn("PG_OWNER"), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.restart_probe (marker text PRIMARY KEY)")
        conn.execute("INSERT INTO public.restart_probe VALUES (%s)", (marker,))
    admin = AdminClient(client_conf(cfg))
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    producer = Producer(client_conf(cfg, extra={"acks": "all"}))
    producer.produce(topic, value=marker.encode())
    assert producer.flush(30) == 0
    topics_before = set(admin.list_topics(timeout=10).topics)

    _stack("down")
    # Listed once everything is stopped: the deployed job keeps checkpointing until then.
    checkpoints = {str(p) for p in Path(cfg["DATA_DIR"], "checkpoints").rglob("_metadata")}
    assert checkpoints, "the deployed streaming job left no checkpoint"
    _stack("up")

    with psycopg.connect(config.pg_dsn("PG_OWNER")) as conn:
        assert conn.execute("SELECT 1 FROM public.restart_probe WHERE marker = %s", (marker,)).fetchone()
    admin = AdminClient(client_conf(cfg))
    assert topics_before <= set(admin.list_topics(timeout=30).topics)
    consumer = Consumer(client_conf(cfg, extra={"group.id": topic, "enable.auto.commit": False}))
    consumer.assign([TopicPartition(topic, 0, 0)])
    msg = None
    for _ in range(30):
        msg = consumer.poll(1.0)
        if msg is not None and not msg.error():
            break
    consumer.close()
    assert msg is not None and msg.value() == marker.encode()
    assert checkpoints <= {str(p) for p in Path(cfg["DATA_DIR"], "checkpoints").rglob("_metadata")}
    admin.delete_topics([topic])

    # The streaming job died with the cluster; deploying it again resumes from those checkpoints.
    from include.airflow_api import AirflowClient

    airflow = AirflowClient(cfg["AIRFLOW_URL"], cfg["AIRFLOW_ADMIN_USER"], cfg["AIRFLOW_ADMIN_PASSWORD"])
    run_id, state = airflow.run_and_wait("dag_flink_deploy", timeout=600)
    assert state == "success", f"dag_flink_deploy {run_id} ended {state} after the restart"
