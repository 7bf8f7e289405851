"""The local Kafka broker: the bootstrap's topics exist and a record round-trips."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import NewTopic

from include.kafka.client_conf import client_conf

pytestmark = pytest.mark.integration


def test_pipeline_topics_exist_with_declared_partitions(bootstrapped, kafka_admin, cfg):
    topics = kafka_admin.list_topics(timeout=10).topics
    assert len(topics[cfg["TOPIC_RAW"]].partitions) == 3
    assert len(topics[cfg["TOPIC_DLQ"]].partitions) == int(cfg["TOPIC_DLQ_PARTITIONS"])


def test_produce_and_consume_round_trip(kafka_admin, cfg):
    topic = f"smoke_{uuid.uuid4().hex[:8]}"
    kafka_admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    try:
        producer = Producer(client_conf(cfg, extra={"enable.idempotence": True}))
        delivered = []
        producer.produce(
            topic,
            key=b"k1",
            value=b'{"hello": "kafka"}',
            headers={"h": b"1"},
            on_delivery=lambda e, m: delivered.append(e),
        )
        assert producer.flush(30) == 0
        assert delivered == [None]

        consumer = Consumer(
            client_conf(cfg, extra={"group.id": f"smoke-{topic}", "auto.offset.reset": "earliest"})
        )
        consumer.subscribe([topic])
        msg = None
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is not None and not msg.error():
                break
        consumer.close()
        assert msg is not None and msg.error() is None
        assert (msg.key(), msg.value(), msg.headers()) == (b"k1", b'{"hello": "kafka"}', [("h", b"1")])
    finally:
        kafka_admin.delete_topics([topic])


def test_read_through_returns_committed_records_once_and_ends_at_the_commit_markers(kafka_admin, cfg):
    """A transactional topic (as the DLQ retry and the Flink job write it): the reader returns each
    committed record once, none of an aborted transaction, and knows it is done although the last
    offsets of each partition are commit markers that are never delivered."""
    from include.kafka.metadata import committed_reader
    from include.kafka.topic_reader import TopicReadThrough

    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    topic = f"scratch_read_through_{uuid.uuid4().hex[:8]}"
    kafka_admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)
    try:
        producer = Producer(client_conf(bootstrap=bootstrap, extra={"transactional.id": f"t-{topic}"}))
        producer.init_transactions(30)
        for committed in (True, False, True):
            producer.begin_transaction()
            for i in range(5):
                producer.produce(topic, key=f"{committed}-{i}".encode(), value=b"x", partition=i % 2)
            if committed:
                producer.commit_transaction(30)
            else:
                producer.abort_transaction(30)
        consumer = committed_reader(bootstrap, "t")
        try:
            reader = TopicReadThrough(consumer, topic)
            records = [m for batch in reader.batches(idle_polls=60) for m in batch]
            assert reader.unread() == 0
        finally:
            consumer.close()
        assert sorted(m.key() for m in records) == sorted([f"True-{i}".encode() for i in range(5)] * 2)

        # From given offsets on: partition 0 starts after its first transaction (three records and
        # the commit marker) and so holds the last transaction's records only; partition 1 is read whole.
        consumer = committed_reader(bootstrap, "t")
        try:
            reader = TopicReadThrough(consumer, topic, start={0: 4})
            later = [(m.partition(), m.key()) for batch in reader.batches(idle_polls=60) for m in batch]
            assert reader.unread() == 0
        finally:
            consumer.close()
        expected = [(0, b"True-0"), (0, b"True-2"), (0, b"True-4")] + [(1, b"True-1"), (1, b"True-3")] * 2
        assert sorted(later) == sorted(expected)
    finally:
        kafka_admin.delete_topics([topic])
