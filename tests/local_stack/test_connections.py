"""Inside Airflow, a task's endpoints come from its connections: change one, the task follows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from stack_support import sasl_ssl_kafka_connection

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_the_dlq_retry_follows_a_changed_kafka_connection(cfg, airflow):
    """Only the Kafka connection changes, to the broker's SASL_SSL listener with its SCRAM login (the
    settings still say PLAINTEXT on the plain port). The retry task logs the settings it took from the
    connection, and its clients get through TLS and SASL to the broker: the broker answers that the
    task's (deliberately absent) topics do not exist there, which it only says to an authenticated client.
    ``airflow tasks test`` runs the real task in a temporary run that leaves nothing in the UI. The DAG
    stays paused meanwhile: the scheduler runs the tasks of an unpaused DAG's running runs, and it
    would take the temporary run's task (with the default params) before the command starts it."""
    sasl = f"{cfg['BIND_HOST']}:{cfg['KAFKA_SASL_SSL_PORT']}"
    env = {**os.environ, "AIRFLOW_CONN_KAFKA_DEFAULT": sasl_ssl_kafka_connection(cfg)}
    params = json.dumps({"dlq_topic": "scratch_dlq_conn_test", "raw_topic": "scratch_raw_conn_test"})
    cli = str(Path(sys.executable).with_name("airflow"))
    was_paused = airflow.set_paused("dag_dlq_retry", True)
    try:
        done = subprocess.run(
            [cli, "tasks", "test", "dag_dlq_retry", "drain", "-t", params],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        airflow.set_paused("dag_dlq_retry", was_paused)
    out = done.stdout + done.stderr
    assert cfg["KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT" and cfg["KAFKA_BOOTSTRAP_SERVERS"] != sasl
    for line in (
        f"KAFKA_BOOTSTRAP_SERVERS '{cfg['KAFKA_BOOTSTRAP_SERVERS']}' -> '{sasl}'",
        "KAFKA_SECURITY_PROTOCOL 'PLAINTEXT' -> 'SASL_SSL'",
        "KAFKA_SASL_PASSWORD (changed)",
    ):
        assert f"setting from an Airflow connection: {line}" in out, out[-3000:]
    assert f"topic 'scratch_raw_conn_test' does not exist on {sasl}" in out, out[-3000:]
    assert cfg["KAFKA_LOCAL_SASL_PASSWORD"] not in out
