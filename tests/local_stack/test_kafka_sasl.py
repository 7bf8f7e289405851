"""Kafka through the local broker's SASL_SSL listener, selected by settings only: the replay, the DLQ
retry and the streaming job reach it with PLAIN or SCRAM-SHA-256 over TLS (the stack's own CA), a wrong
password and a PLAINTEXT client are refused with one line each.

Every test works in fresh ``scratch_*`` topics, deleted at the end with the rows the drain stored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from dlq_topics_support import topic_pairs
from window_metrics_support import isolated_run, submit_job, wait_for, wait_for_table, wait_running

from include import config
from include.dlq.backoff import BackoffPolicy
from include.dlq.drain import DrainOptions, drain
from include.flink_jobs.ad_window_metrics import oracle
from include.ingest.end_of_input import HEARTBEAT_HEADER
from include.ingest.events import dead_letter
from include.kafka.client_conf import client_conf
from include.kafka.errors import AuthenticationFailed, BrokerUnreachable
from include.kafka.metadata import topic_partitions
from include.kafka.topic_reader import TopicReadThrough
from include.kafka.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "avazu_sample_100.csv"
MECHANISMS = ("PLAIN", "SCRAM-SHA-256")


def sasl_settings(cfg: dict[str, str], mechanism: str, password: str | None = None) -> dict[str, str]:
    """The settings that point every Kafka client at the SASL_SSL listener, as a user would set them."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": f"{cfg['BIND_HOST']}:{cfg['KAFKA_SASL_SSL_PORT']}",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": mechanism,
        "KAFKA_SASL_USERNAME": cfg["KAFKA_LOCAL_SASL_USERNAME"],
        "KAFKA_SASL_PASSWORD": cfg["KAFKA_LOCAL_SASL_PASSWORD"] if password is None else password,
        "KAFKA_SSL_CA_LOCATION": f"{cfg['DATA_DIR']}/tls/kafka/ca.crt",
    }


def resolved(cfg: dict[str, str], settings: dict[str, str]) -> dict[str, str]:
    return config.resolve({**config.read_env_file(), **os.environ, **settings})


def replay_cli(settings: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "include.ingest.replay", "--no-progress", "--file", str(SAMPLE), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **settings},
    )


def read_topic(conf: dict[str, Any], topic: str) -> list[Any]:
    """Every committed record of ``topic``, markers left out, read with the client configuration ``conf``."""
    consumer = Consumer(
        {
            **conf,
            "group.id": f"t-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        reader = TopicReadThrough(consumer, topic)
        records = [m for batch in reader.batches(size=1000, deadline_s=60) for m in batch]
        assert reader.unread() == 0, f"did not reach the end of {topic}: {reader.unread()} offsets left"
        return [m for m in records if not any(name == HEARTBEAT_HEADER for name, _ in m.headers() or [])]
    finally:
        consumer.close()


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The CLI's one error line: no traceback, nothing else said about the failure."""
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("replay: error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.fixture
def topics(kafka_admin: Any) -> Iterator[Any]:
    with topic_pairs(kafka_admin, "sasl_test") as make:
        yield make


@pytest.fixture(scope="module")
def registered(bootstrapped: Any) -> None:
    """The bootstrap DAG registered the schemas the replay and the drain look up."""


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_the_sample_replayed_through_sasl_ssl_lands_every_row(cfg, topics, registered, mechanism):
    raw, dlq = topics()
    settings = sasl_settings(cfg, mechanism)
    result = replay_cli(settings, "--topic", raw, "--dlq-topic", dlq, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["rows_read"], report["published"], report["dead_lettered"]) == (100, 100, 0)

    # Read back through the same listener, with both mechanisms: the same 100 events as the file.
    expected = sorted(line.split(",", 1)[0] for line in SAMPLE.read_text().splitlines()[1:])
    for reader in MECHANISMS:
        conf = client_conf(resolved(cfg, sasl_settings(cfg, reader)))
        assert conf["bootstrap.servers"].endswith(f":{cfg['KAFKA_SASL_SSL_PORT']}")
        records = read_topic(conf, raw)
        assert sorted(json.loads(m.value())["event_id"] for m in records) == expected


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_a_wrong_password_is_one_line_naming_the_settings(cfg, topics, registered, mechanism):
    raw, dlq = topics()
    result = replay_cli(
        sasl_settings(cfg, mechanism, password="not-the-password"), "--topic", raw, "--dlq-topic", dlq
    )
    assert result.returncode == 3
    line = error_line(result)
    assert "refused the connection (SASL authentication error: Authentication failed" in line
    assert "invalid" in line.lower()
    assert "KAFKA_SASL_PASSWORD" in line
    assert "not-the-password" not in result.stderr
    # Nothing was published: the raw topic is still empty (read with the stack's own settings).
    assert read_topic(client_conf(cfg), raw) == []


def test_a_plaintext_client_is_refused_by_the_sasl_listener(cfg, topics, registered, monkeypatch):
    raw, dlq = topics()
    plaintext = {**sasl_settings(cfg, "PLAIN"), "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}
    result = replay_cli(plaintext, "--topic", raw, "--dlq-topic", dlq)
    assert result.returncode == 3
    assert "does this listener speak PLAINTEXT (KAFKA_SECURITY_PROTOCOL)" in error_line(result)
    # In process too: the metadata look-up every client starts with fails, and says why.
    sasl_port = plaintext["KAFKA_BOOTSTRAP_SERVERS"]
    for name, value in plaintext.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(BrokerUnreachable, match="over PLAINTEXT"):
        topic_partitions(sasl_port, [raw], timeout=5)
    # A user the broker does not know is refused by SASL, after the TLS handshake succeeded.
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "nobody")
    with pytest.raises(AuthenticationFailed, match="Authentication failed"):
        topic_partitions(sasl_port, [raw], timeout=5)


def test_the_dlq_retry_drains_through_sasl_ssl(cfg, topics, registered, monkeypatch):
    raw, dlq = topics()
    for name, value in sasl_settings(cfg, "SCRAM-SHA-256").items():
        monkeypatch.setenv(name, value)
    sasl = config.resolve()
    # A valid event the Flink job rejected once: the retry republishes it to the raw topic.
    replayed = replay_cli(
        sasl_settings(cfg, "SCRAM-SHA-256"), "--topic", raw, "--dlq-topic", dlq, "--to-hour", "14102100"
    )
    assert replayed.returncode == 0, replayed.stderr
    event = json.loads(read_topic(client_conf(sasl), raw)[0].value())
    letter = dead_letter(
        json.dumps(event), "schema", "rejected by flink", source="flink", topic=raw, partition=0, offset=0,
        event_id=event["event_id"],
    )  # fmt: skip
    producer = Producer(client_conf(sasl, extra={"enable.idempotence": True}))
    producer.produce(dlq, json.dumps(letter).encode(), event["event_id"].encode())
    assert producer.flush(30) == 0

    import psycopg2

    writer = psycopg2.connect(config.pg_dsn("PG_STREAM_WRITER"))
    try:
        options = DrainOptions(
            dlq_topic=dlq,
            raw_topic=raw,
            group_id=f"dlq_test_{uuid.uuid4().hex[:8]}",
            policy=BackoffPolicy(0, 0, 3),
            pushgateway_url="",
        )
        report = drain(options, writer)
    finally:
        writer.close()
    assert (report.read, report.republished, report.permanent) == (1, 1, 0)
    republished = [m for m in read_topic(client_conf(sasl), raw) if dict(m.headers() or []).get("dlq-origin")]
    assert [json.loads(m.value())["event_id"] for m in republished] == [event["event_id"]]


def test_the_streaming_job_reads_and_dead_letters_through_sasl_ssl(
    bootstrapped, cfg, kafka_admin, pg_owner, tmp_path, monkeypatch
):
    """The real job, its Kafka source and its exactly-once DLQ sink on the SASL_SSL listener (the
    shaded JAAS login module, the PEM trust store): the sample's windows equal the oracle's, and a
    record that is not JSON comes back as a committed dead letter."""
    for name, value in {
        **sasl_settings(cfg, "SCRAM-SHA-256"),
        "TOPIC_RAW_EXTRA": "wm_test_*",
        "TOPIC_DLQ_EXTRA": "wm_test_*",
    }.items():
        monkeypatch.setenv(name, value)
    sasl = config.resolve()
    expected = oracle.compute_file(SAMPLE)
    with isolated_run(cfg, kafka_admin, pg_owner, archive_dir=tmp_path / "archive") as run:
        job_id = submit_job(sasl, run.job_args(redis_url=""))
        wait_running(sasl, job_id)
        producer = Producer(client_conf(sasl))
        producer.produce(run.topic, b"this is not json", partition=0)
        assert producer.flush(30) == 0
        result = replay_cli({}, "--topic", run.topic, "--dlq-topic", run.dlq_topic)
        assert result.returncode == 0, result.stderr
        wait_for_table(pg_owner, run.table, expected)
        letters = wait_for(lambda: read_topic(client_conf(sasl), run.dlq_topic), 120, "the dead letter")
        assert [json.loads(m.value())["raw_payload"] for m in letters] == ["this is not json"]


def test_airflows_kafka_connection_creates_topics_through_sasl_ssl(cfg, kafka_admin, monkeypatch):
    """kafka_default derived from the SASL settings: the provider's admin hook (what
    dag_platform_bootstrap creates the topics with) works through the listener."""
    from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook

    monkeypatch.delenv("AIRFLOW_CONN_KAFKA_DEFAULT", raising=False)
    sasl = resolved(cfg, sasl_settings(cfg, "SCRAM-SHA-256"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_KAFKA_DEFAULT", config.airflow_connections(sasl)["AIRFLOW_CONN_KAFKA_DEFAULT"]
    )
    name = f"scratch_raw_sasl_test_{uuid.uuid4().hex[:8]}"
    try:
        admin = KafkaAdminClientHook(kafka_config_id="kafka_default").get_conn
        assert ensure_topics(admin, [TopicSpec(name, 2, 1)]) == {name: "created"}
        assert len(kafka_admin.list_topics(name, timeout=10).topics[name].partitions) == 2
    finally:
        kafka_admin.delete_topics([name])
