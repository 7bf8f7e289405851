"""Topic metadata from the broker: how many partitions each topic has, where each one ends."""

from __future__ import annotations

from typing import Any

from include import config
from include.kafka.client_conf import client_conf
from include.kafka.errors import AuthenticationFailed, BrokerUnreachable, TopicNotFound


def topic_partitions(bootstrap: str, topics: list[str], timeout: float = 10.0) -> dict[str, int]:
    """Partition count of each topic.

    Raises :class:`BrokerUnreachable` (:class:`AuthenticationFailed` when the broker refused the
    credentials or the TLS handshake) or :class:`TopicNotFound`. The metadata client is destroyed
    before returning: callers fork sender processes afterwards, and a child must not inherit a live
    librdkafka instance.
    """
    from confluent_kafka import KafkaException, Producer

    # log_level 0: an unreachable broker is reported once, by the exception, not by librdkafka's log.
    # The reason a secured broker gave (bad credentials, an untrusted certificate) only reaches the
    # error callback: the metadata request itself just fails with "transport failure".
    errors: list[Any] = []
    conf = {"socket.timeout.ms": int(timeout * 1000), "log_level": 0, "error_cb": errors.append}
    client = Producer(client_conf(bootstrap=bootstrap, extra=conf))
    try:
        metadata = client.list_topics(timeout=timeout)
    except KafkaException as exc:
        client.poll(0)  # serves the error callbacks queued meanwhile
        raise _unreachable(bootstrap, exc, errors) from None
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


def _unreachable(bootstrap: str, exc: Exception, errors: list[Any]) -> BrokerUnreachable:
    from confluent_kafka import KafkaError

    protocol = config.kafka_security_params().get("security.protocol", "PLAINTEXT")
    refused = [e for e in errors if e.code() in (KafkaError._AUTHENTICATION, KafkaError._SSL)]
    if refused:
        # librdkafka's text starts with the broker's name; what follows it is the reason.
        reason = refused[0].str().split(": ", 1)[-1]
        return AuthenticationFailed(
            f"Kafka at {bootstrap} refused the connection ({reason}): check KAFKA_SASL_USERNAME, "
            f"KAFKA_SASL_PASSWORD, KAFKA_SASL_MECHANISM and KAFKA_SSL_CA_LOCATION"
        )
    reason = exc.args[0].str() if exc.args else exc
    return BrokerUnreachable(
        f"Kafka unreachable at {bootstrap} over {protocol} ({reason}); is the broker up, and does this "
        f"listener speak {protocol} (KAFKA_SECURITY_PROTOCOL)?"
    )


def committed_reader(bootstrap: str, purpose: str, **conf: Any) -> Any:
    """A consumer of committed records only, in a fresh group named after ``purpose``, that never
    commits offsets: for reading a topic through (an audit, its end offsets), not for consuming it."""
    import uuid

    from confluent_kafka import Consumer

    return Consumer(
        client_conf(
            bootstrap=bootstrap,
            extra={
                "group.id": f"{purpose}-{uuid.uuid4().hex[:8]}",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                **conf,
            },
        )
    )


def end_offsets(consumer: Any, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """Each partition's end (the offset the next record will get), as ``consumer`` sees it.

    With ``isolation.level=read_committed`` that is the last stable offset: records of open
    transactions lie beyond it. Raises :class:`TopicNotFound`.
    """
    from confluent_kafka import TopicPartition

    found = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        raise TopicNotFound(f"topic {topic!r} does not exist: run dag_platform_bootstrap or create it")
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
        for p in found.partitions
    }
