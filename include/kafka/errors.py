"""What can go wrong when asking Kafka about topics; ``str()`` is one line a person can act on."""

from __future__ import annotations


class KafkaServiceError(Exception):
    """Kafka cannot serve the request: the broker is away or a topic is missing."""


class BrokerUnreachable(KafkaServiceError):
    """No broker answered the metadata request in time."""


class AuthenticationFailed(BrokerUnreachable):
    """The broker answered, but refused the client's SASL credentials or its TLS handshake."""


class TopicNotFound(KafkaServiceError):
    """The broker answered, but a topic the caller needs does not exist."""
