"""The local Kafka broker: the bootstrap's topics exist and a record round-trips."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import NewTopic

pytestmark = pytest.mark.integration


def test_pipeline_topics_exist_with_declared_partitions(bootstrapped, kafka_admin, cfg):
    topics = kafka_admin.list_topics(timeout=10).topics
    assert len(topics[cfg["TOPIC_RAW"]].partitions) == 3
    assert len(topics[cfg["TOPIC_DLQ"]].partitions) == int(cfg["TOPIC_DLQ_PARTITIONS"])


def test_produce_and_consume_round_trip(kafka_admin, cfg):
    topic = f"smoke_{uuid.uuid4().hex[:8]}"
    kafka_admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=30)
    try:
        producer = Producer({"bootstrap.servers": cfg["KAFKA_BOOTSTRAP_SERVERS"], "enable.idempotence": True})
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
            {
                "bootstrap.servers": cfg["KAFKA_BOOTSTRAP_SERVERS"],
                "group.id": f"smoke-{topic}",
                "auto.offset.reset": "earliest",
            }
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
