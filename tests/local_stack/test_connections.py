"""Inside Airflow, a task's endpoints come from its connections: change one, the task follows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_the_dlq_retry_follows_a_changed_kafka_connection(cfg):
    """The Kafka connection alone points elsewhere (the setting is unchanged): the retry task says it
    took the address from the connection, and fails reaching that address, not the setting's broker.
    ``airflow tasks test`` runs the real task in a temporary run that leaves nothing in the UI."""
    nowhere = "127.0.0.1:1"
    env = {
        **os.environ,
        "AIRFLOW_CONN_KAFKA_DEFAULT": json.dumps(
            {"conn_type": "kafka", "extra": {"bootstrap.servers": nowhere}}
        ),
    }
    params = json.dumps({"dlq_topic": "scratch_dlq_conn_test", "raw_topic": "scratch_raw_conn_test"})
    airflow = str(Path(sys.executable).with_name("airflow"))
    done = subprocess.run(
        [airflow, "tasks", "test", "dag_dlq_retry", "drain", "-t", params],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = done.stdout + done.stderr
    setting = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    assert (
        f"setting from an Airflow connection: KAFKA_BOOTSTRAP_SERVERS '{setting}' -> '{nowhere}'" in out
    ), out[-3000:]
    assert f"Kafka unreachable at {nowhere}" in out, out[-3000:]
