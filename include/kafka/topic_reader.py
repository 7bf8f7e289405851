"""Reading a topic through: every committed record from its start to the end it had when asked.

Used wherever a whole topic must be seen exactly once (the topic audit, tests that inspect what
a replay wrote). The end is taken once, at the start, so records produced meanwhile are not
waited for. A transactional topic ends in commit markers, which take offsets but are never
delivered, so a partition is done when the consumer's *position* reaches its end, not when a
record with the last offset arrives.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

from include.kafka.metadata import end_offsets

IDLE_POLLS = 5
"""Empty polls in a row after which the reader stops waiting for a partition that does not move."""


class TopicReadThrough:
    """Assigns ``consumer`` to every non-empty partition of ``topic`` from its start (or from the
    offsets in ``start``, by partition).

    Iterate :meth:`batches` for the records below the ends; afterwards :meth:`unread` says how
    many offsets were never reached (0 when the topic was read whole).
    """

    def __init__(
        self, consumer: Any, topic: str, start: Mapping[int, int] | None = None, timeout: float = 10.0
    ) -> None:
        self.consumer, self.topic = consumer, topic
        self.start = dict(start or {})
        ends = end_offsets(consumer, topic, timeout)
        self.ends = {p: end for p, end in ends.items() if end > self.start.get(p, 0)}
        self._pending = set(self.ends)
        consumer.assign(
            [TopicPartition(topic, p, self.start.get(p, OFFSET_BEGINNING)) for p in self._pending]
        )

    @property
    def total(self) -> int:
        """Offsets to read (records and commit markers)."""
        return sum(end - self.start.get(p, 0) for p, end in self.ends.items())

    def batches(
        self,
        size: int = 5000,
        poll_s: float = 1.0,
        idle_polls: int = IDLE_POLLS,
        deadline_s: float | None = None,
    ) -> Iterator[list[Any]]:
        """Each polled batch of records below the ends, until every partition's position reaches
        its end, ``idle_polls`` polls in a row bring nothing, or ``deadline_s`` seconds pass.

        Raises KafkaException for an error the broker delivers in place of a record.
        """
        deadline = None if deadline_s is None else time.monotonic() + deadline_s
        idle = 0
        while self._pending and idle < idle_polls and (deadline is None or time.monotonic() < deadline):
            polled = self.consumer.consume(size, timeout=poll_s)
            idle = 0 if polled else idle + 1
            batch = []
            for msg in polled:
                if msg.error() is not None:
                    raise KafkaException(msg.error())
                if msg.partition() in self._pending and msg.offset() < self.ends[msg.partition()]:
                    batch.append(msg)
            self._settle()
            if batch:
                yield batch

    def unread(self) -> int:
        """Offsets below the ends the reader never reached."""
        return sum(
            self.ends[tp.partition] - max(tp.offset, self.start.get(tp.partition, 0))
            for tp in self._positions()
        )

    def _settle(self) -> None:
        self._pending -= {tp.partition for tp in self._positions() if tp.offset >= self.ends[tp.partition]}

    def _positions(self) -> list[Any]:
        if not self._pending:
            return []
        return self.consumer.position([TopicPartition(self.topic, p) for p in sorted(self._pending)])
