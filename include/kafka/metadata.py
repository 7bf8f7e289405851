"""Topic metadata from the broker: how many partitions each topic has."""

from __future__ import annotations

from include.kafka.errors import BrokerUnreachable, TopicNotFound


def topic_partitions(bootstrap: str, topics: list[str], timeout: float = 10.0) -> dict[str, int]:
    """Partition count of each topic.

    Raises :class:`BrokerUnreachable` or :class:`TopicNotFound`. The metadata client is destroyed
    before returning: callers fork sender processes afterwards, and a child must not inherit a live
    librdkafka instance.
    """
    from confluent_kafka import KafkaException, Producer

    # log_level 0: an unreachable broker is reported once, by the exception, not by librdkafka's log.
    client = Producer(
        {"bootstrap.servers": bootstrap, "socket.timeout.ms": int(timeout * 1000), "log_level": 0}
    )
    try:
        metadata = client.list_topics(timeout=timeout)
    except KafkaException as exc:
        reason = exc.args[0].str() if exc.args else exc
        raise BrokerUnreachable(f"Kafka unreachable at {bootstrap} ({reason}); is the broker up?") from None
    finally:
        del client
    counts: dict[str, int] = {}
    for name in topics:
        found = metadata.topics.get(name)
        if found is None or found.error is not None or not found.partitions:
            raise TopicNotFound(
                f"topic {name!r} does not exist on {bootstrap}: run dag_platform_bootstrap or create it"
            )
        counts[name] = len(found.partitions)
    return counts
