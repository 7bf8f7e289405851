"""Reading a topic as another team would: a stock client and its stock deserializer."""

from __future__ import annotations

from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from include.kafka.metadata import committed_reader
from include.kafka.topic_reader import TopicReadThrough


def stock_registry_conf(registry_url: str) -> dict[str, Any]:
    """The stock registry client's configuration: the URL, and a timeout. Without one, a request the
    registry never answers waits forever (CI once hung there); with one, the client retries it."""
    return {"url": registry_url, "timeout": 10}


def consume_stock(bootstrap: str, registry_url: str, topic: str) -> list[tuple[Any, dict[str, Any]]]:
    """Every record of ``topic`` as a stock consumer sees it: ``(message, deserialized value)``.

    This is the whole consumer-side setup another team needs: the registry URL, nothing of ours.
    """
    deserialize = JSONDeserializer(
        None, schema_registry_client=SchemaRegistryClient(stock_registry_conf(registry_url))
    )
    consumer = committed_reader(bootstrap, "stock")
    try:
        out = []
        for batch in TopicReadThrough(consumer, topic).batches(size=1000):
            for msg in batch:
                ctx = SerializationContext(topic, MessageField.VALUE, msg.headers())
                out.append((msg, deserialize(msg.value(), ctx)))
        return out
    finally:
        consumer.close()
