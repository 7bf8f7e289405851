"""Reading a topic as another team would: a stock client and its stock deserializer."""

from __future__ import annotations

import uuid
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def consume_stock(bootstrap: str, registry_url: str, topic: str) -> list[tuple[Any, dict[str, Any]]]:
    """Every record of ``topic`` as a stock consumer sees it: ``(message, deserialized value)``.

    This is the whole consumer-side setup another team needs: the registry URL, nothing of ours.
    """
    deserialize = JSONDeserializer(None, schema_registry_client=SchemaRegistryClient({"url": registry_url}))
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"stock-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
        }
        consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
        wanted, out = {p: end for p, end in ends.items() if end > 0}, []
        while wanted:
            batch = consumer.consume(1000, timeout=5.0)
            if not batch:
                # A transactional topic ends in a commit marker, never delivered: the position says.
                positions = consumer.position([TopicPartition(topic, p) for p in wanted])
                assert all(
                    tp.offset >= wanted[tp.partition] for tp in positions
                ), f"{topic}: no records before the high watermarks {wanted}"
                break
            for msg in batch:
                assert msg.error() is None, msg.error()
                ctx = SerializationContext(topic, MessageField.VALUE, msg.headers())
                out.append((msg, deserialize(msg.value(), ctx)))
                if msg.offset() + 1 >= wanted.get(msg.partition(), 0):
                    wanted.pop(msg.partition(), None)
        return out
    finally:
        consumer.close()
