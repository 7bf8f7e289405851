"""A 1M-row replay survives the broker stopping for 20 s: nothing lost, nothing duplicated.

Stops and starts ONLY Kafka (through supervisord), so it runs with the stack-restart tests, after
every other test: the session's Kafka clients are still reconnecting after the restart, and a replay
that forks its sender processes meanwhile can hang in librdkafka (seen once: a sender stuck
destroying a client). By hand:
``local_stack/bin/run.sh .venvs/airflow/bin/python -m pytest tests/local_stack/test_replay_broker_outage.py``.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from include import config
from include.ingest.end_of_input import HEARTBEAT_HEADER
from include.ingest.generator import generate
from include.kafka.client_conf import client_conf
from include.kafka.metadata import committed_reader
from include.kafka.topic_reader import TopicReadThrough

pytestmark = [pytest.mark.integration, pytest.mark.restarts_stack, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ROWS = 1_000_000
OUTAGE_S = 20


def _supervisor(action: str) -> None:
    subprocess.run(
        [
            str(REPO / ".venvs/airflow/bin/supervisorctl"),
            "-c",
            str(Path(config.get("DATA_DIR")) / "run" / "conf" / "supervisord.conf"),
            action,
            "kafka",
        ],
        check=True,
        timeout=120,
    )


def _wait_for_broker(bootstrap: str, timeout: float = 120) -> AdminClient:
    deadline = time.monotonic() + timeout
    while True:
        admin = AdminClient(client_conf(bootstrap=bootstrap))
        try:
            admin.list_topics(timeout=5)
            return admin
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _wait_for_first_records(bootstrap: str, topic: str, timeout: float = 180) -> None:
    """Until the replay has published into ``topic``: the outage must hit it mid-flight."""
    consumer = Consumer(client_conf(bootstrap=bootstrap, extra={"group.id": f"t-{uuid.uuid4().hex[:8]}"}))
    try:
        deadline = time.monotonic() + timeout
        while True:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            ends = [
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
            ]
            if sum(ends) > 0:
                return
            assert (
                time.monotonic() < deadline
            ), f"the replay published nothing into {topic} in {timeout:.0f} s"
            time.sleep(0.5)
    finally:
        consumer.close()


def _count_ids(bootstrap: str, topic: str) -> tuple[int, int]:
    """(records, distinct keys) up to the high watermarks."""
    consumer = committed_reader(bootstrap, "t")
    try:
        reader = TopicReadThrough(consumer, topic)
        count, keys = 0, set()
        for batch in reader.batches(size=50_000, deadline_s=300):
            for msg in batch:
                if any(name == HEARTBEAT_HEADER for name, _ in msg.headers() or []):
                    continue  # watermark markers are not events
                count += 1
                keys.add(msg.key())
        assert reader.unread() == 0, f"did not reach the end of {topic}: {reader.unread()} offsets left"
        return count, len(keys)
    finally:
        consumer.close()


def test_broker_outage_mid_replay_loses_and_duplicates_nothing(bootstrapped, cfg, tmp_path):
    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    path = tmp_path / "outage_1m.csv"
    generate(path, ROWS, "14102600", 24, seed=4242, progress=False)
    raw, dlq = f"scratch_raw_outage_{uuid.uuid4().hex[:8]}", f"scratch_dlq_outage_{uuid.uuid4().hex[:8]}"
    admin = _wait_for_broker(bootstrap)
    for name, parts in ((raw, 3), (dlq, 1)):
        admin.create_topics([NewTopic(name, parts, 1)])[name].result(timeout=30)
    proc = subprocess.Popen(
        [sys.executable, "-m", "include.ingest.replay", "--no-progress", "--json", "--file", str(path),
         "--topic", raw, "--dlq-topic", dlq],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for_first_records(bootstrap, raw)  # a loaded machine may take a while to start it
        assert proc.poll() is None, "replay finished before the outage: make the input larger"
        _supervisor("stop")
        time.sleep(OUTAGE_S)
        _supervisor("start")
        out, err = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
        _wait_for_broker(bootstrap)
    try:
        assert proc.returncode == 0, err[-3000:]
        assert '"published": 1000000' in out and '"unaccounted": 0' in out
        assert _count_ids(bootstrap, raw) == (ROWS, ROWS)
    finally:
        _wait_for_broker(bootstrap).delete_topics([raw, dlq])
