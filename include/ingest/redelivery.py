"""Rows whose delivery the broker never confirmed: look for them in the topic, send only the absent.

The idempotent producer retries on its own until ``message.timeout.ms``; after that (a broker away
for longer, or a client that stays stuck after the broker came back, seen once in CI) a row's
delivery report says "timed out" although the row may or may not be in the topic. Sending it again
blindly could duplicate it; giving up would lose it. Event ids are unique keys, so the sender keeps
such rows aside as :class:`Unconfirmed`, reads the topic from the offsets the replay started at, and
re-sends only the rows whose key is not there.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from include.kafka.client_conf import client_conf

# Delivery errors after which a row may or may not be in the topic; anything else (record too large,
# no authorisation, ...) is a plain failure that sending again would not fix.
RECHECK_ERRORS = frozenset({"_MSG_TIMED_OUT", "_TIMED_OUT", "_PURGE_QUEUE", "_PURGE_INFLIGHT", "_TRANSPORT"})


@dataclass(slots=True)
class Unconfirmed:
    """A record the broker may or may not have written; ``error_type`` is set for dead letters."""

    topic: str
    partition: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] | None
    reason: str
    error_type: str | None = None


def needs_recheck(err: Any) -> bool:
    """True for a delivery error after which the record may still have been written."""
    return err.name() in RECHECK_ERRORS


def unconfirmed_from(err: Any, msg: Any, error_type: str | None = None) -> Unconfirmed:
    kind = "dlq" if error_type is not None else "raw"
    return Unconfirmed(
        msg.topic(),
        msg.partition(),
        msg.key(),
        msg.value(),
        msg.headers(),
        f"{kind}: {err.str()}",
        error_type,
    )


def high_watermarks(bootstrap: str, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """Next offset of every partition of ``topic`` now: where this replay's rows will start."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(_consumer_conf(bootstrap))
    try:
        partitions = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
            for p in partitions
        }
    finally:
        consumer.close()


def keys_in_topic(
    bootstrap: str, topic: str, since: dict[int, int], wanted: set[bytes], timeout: float = 300.0
) -> set[bytes]:
    """The keys of ``wanted`` found in ``topic`` from offsets ``since`` up to the current end.

    Raises ``RuntimeError`` when the end is not reached within ``timeout`` (broker away again): the
    caller keeps its rows unconfirmed rather than guessing.
    """
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(_consumer_conf(bootstrap))
    try:
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in sorted(since)
        }
        remaining = {p for p, end in ends.items() if end > since[p]}
        consumer.assign([TopicPartition(topic, p, since[p]) for p in remaining])
        found: set[bytes] = set()
        deadline = time.monotonic() + timeout
        while remaining:
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not read {topic} partitions {sorted(remaining)} to their end")
            for msg in consumer.consume(10_000, timeout=1.0):
                if msg.error() is not None:
                    continue  # partition EOF and transient errors; the deadline bounds the wait
                key = msg.key()
                if key in wanted:
                    found.add(key)
                if msg.offset() + 1 >= ends[msg.partition()]:
                    remaining.discard(msg.partition())
        return found
    finally:
        consumer.close()


def _consumer_conf(bootstrap: str) -> dict[str, Any]:
    return client_conf(
        bootstrap=bootstrap,
        extra={
            "group.id": f"avazu-replay-recheck-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "log_level": 0,
        },
    )
