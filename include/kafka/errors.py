"""What can go wrong when asking Kafka about topics; ``str()`` is one line a person can act on."""

from __future__ import annotations


class KafkaServiceError(Exception):
    """Kafka cannot serve the request: the broker is away or a topic is missing."""


class BrokerUnreachable(KafkaServiceError):
    """No broker answered the metadata request in time."""


class TopicNotFound(KafkaServiceError):
    """The broker answered, but a topic the caller needs does not exist."""
