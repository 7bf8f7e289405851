"""The replay's Kafka producer: counts what the broker acknowledged, and survives a broker outage.

- ``PRODUCER_DEFAULTS``: an idempotent producer (retries neither duplicate nor reorder within a
  partition) with a 5-minute ``message.timeout.ms``, so the broker may be away for minutes.
- A full local queue (broker away) makes ``produce()`` wait, never fail.
- A client that holds rows, gets no delivery report for ``STALL_S`` and talks to a broker that
  answers is stuck (seen once in CI after a broker restart): it is replaced by a new one.
- Rows whose delivery ends unconfirmed (timed out, or purged from a replaced client) may or may not
  be in the topic: they are looked up by key and sent again only if absent
  (:mod:`include.ingest.redelivery`), for up to ``RECOVERY_ROUNDS`` rounds at the end.
- Every row is held (:class:`Outstanding`) until its delivery report comes. A replaced client may
  never report some of its rows (seen in a run that restarted the broker under load: 1,256 rows
  vanished from the accounting); those join the unconfirmed rows instead of being forgotten.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from functools import partial
from itertools import count
from typing import Any

from include.ingest.accounting import Counters
from include.ingest.redelivery import Unconfirmed, keys_in_topic, needs_recheck, unconfirmed_from
from include.kafka.errors import KafkaServiceError
from include.kafka.metadata import topic_partitions

log = logging.getLogger(__name__)

# A producer with rows outstanding, a broker that answers, and no delivery report for this long is
# stuck. Generous next to librdkafka's 30 s request timeout, so a slow broker is never mistaken for it.
STALL_S = 90.0
RECOVERY_ROUNDS = 3
# How long a replaced client may take to report the rows it purged; rows it has not reported by
# then are looked up by key like any other unconfirmed row.
PURGE_REPORT_WAIT_S = 30.0

# Throughput and outage survival; any of them can be overridden with ReplayOptions.kafka_overrides.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,  # retries never duplicate or reorder within a partition
    "acks": "all",
    "linger.ms": 50,  # fill large batches: fewer requests for the broker sharing our 2 cores
    "batch.size": 1_000_000,
    "batch.num.messages": 100_000,
    "compression.type": "lz4",  # ~4x smaller on Avazu JSON for little CPU
    "message.timeout.ms": 300_000,  # a broker may be away for minutes before a row counts as failed
    "queue.buffering.max.messages": 200_000,
    "queue.buffering.max.kbytes": 262_144,
}


class Outstanding:
    """Rows handed to the client whose delivery report has not come yet, so none can be forgotten.

    Raw rows are held by key (event ids are unique; a repeated id is counted, and the copies are
    looked up by that key like the rest). Dead letters, which may have no key, by a sequence number.
    """

    def __init__(self) -> None:
        self.raw: dict[bytes, tuple[bytes, int, list[tuple[str, bytes]]]] = {}
        self.repeats: dict[bytes, int] = {}
        self.dlq: dict[int, Unconfirmed] = {}
        self._seq = count()

    def add_raw(self, key: bytes, value: bytes, partition: int, headers: list[tuple[str, bytes]]) -> None:
        if key in self.raw:
            self.repeats[key] = self.repeats.get(key, 0) + 1
        self.raw[key] = (value, partition, headers)

    def settle_raw(self, key: bytes) -> None:
        repeats = self.repeats.get(key)
        if repeats:
            if repeats == 1:
                del self.repeats[key]
            else:
                self.repeats[key] = repeats - 1
        else:
            self.raw.pop(key, None)

    def add_dlq(self, row: Unconfirmed) -> int:
        seq = next(self._seq)
        self.dlq[seq] = row
        return seq

    def __len__(self) -> int:
        return len(self.raw) + sum(self.repeats.values()) + len(self.dlq)

    def take(self, topic: str, reason: str) -> list[Unconfirmed]:
        """Every row still held, as unconfirmed rows (raw rows of ``topic``), and forget them."""
        rows = [
            Unconfirmed(topic, partition, key, value, headers, f"raw: {reason}")
            for key, (value, partition, headers) in self.raw.items()
            for _ in range(1 + self.repeats.get(key, 0))
        ]
        for row in self.dlq.values():
            row.reason = f"dlq: {reason}"
            rows.append(row)
        self.raw, self.repeats, self.dlq = {}, {}, {}
        return rows


class AccountedProducer:
    """A librdkafka producer for ``topic`` whose :class:`Counters` count acknowledged deliveries.

    ``start_offsets``: where the replay started in each partition of the raw and DLQ topics; without
    them unconfirmed rows are plain failures (nothing to look them up from).
    """

    def __init__(
        self, kafka_conf: dict[str, Any], topic: str, start_offsets: dict[str, dict[int, int]] | None
    ) -> None:
        self.counters = Counters()
        self.topic = topic
        self._kafka_conf = kafka_conf
        self._bootstrap = str(kafka_conf["bootstrap.servers"])
        self.producer = self._new_producer()
        self._start_offsets = start_offsets
        self._unconfirmed: list[Unconfirmed] = []
        self.outstanding = Outstanding()
        self._last_report = time.monotonic()
        self._waiting_since: float | None = None
        self._recovering = False
        self._errors_logged = 0

    def _new_producer(self) -> Any:
        from confluent_kafka import Producer

        return Producer({**self._kafka_conf, "on_delivery": self._on_raw, "error_cb": self._on_error})

    # -- delivery reports ------------------------------------------------------------------------
    def _on_error(self, err: Any) -> None:
        """Client-level errors (broker down, ...): librdkafka keeps retrying; fatal ones stop the run."""
        if err.fatal():
            raise RuntimeError(f"fatal Kafka producer error: {err.str()}")
        if self._errors_logged < 5:
            log.warning("Kafka client: %s (retrying until message.timeout.ms)", err.str())
            self._errors_logged += 1

    def _on_raw(self, err: Any, msg: Any) -> None:
        self._last_report = time.monotonic()
        self.outstanding.settle_raw(msg.key())
        c = self.counters
        if err is None:
            c.published += 1
            c.bytes_published += len(msg)
            c.observe_latency(msg.latency() or 0.0)
        elif self._start_offsets is not None and needs_recheck(err):
            self._unconfirmed.append(unconfirmed_from(err, msg))
        else:
            c.note_failure(f"raw: {err.str()}")

    def _on_dlq(self, error_type: str, seq: int, err: Any, msg: Any) -> None:
        self._last_report = time.monotonic()
        self.outstanding.dlq.pop(seq, None)
        c = self.counters
        if err is None:
            c.dead_lettered += 1
            c.by_error_type[error_type] = c.by_error_type.get(error_type, 0) + 1
        elif self._start_offsets is not None and needs_recheck(err):
            self._unconfirmed.append(unconfirmed_from(err, msg, error_type))
        else:
            c.note_failure(f"dlq: {err.str()}")

    # -- producing -------------------------------------------------------------------------------
    def _produce(self, topic: str, value: bytes, key: bytes | None, partition: int, **kwargs: Any) -> None:
        """produce(), waiting for room while the local queue is full (e.g. during a broker outage)."""
        while True:
            try:
                self.producer.produce(topic, value, key, partition, **kwargs)
                return
            except BufferError:
                self.producer.poll(0.1)
                self._check_stall()

    def produce_raw(self, value: bytes, key: bytes, partition: int, headers: list[tuple[str, bytes]]) -> None:
        """One event into the raw topic, held until its delivery report."""
        self._produce(self.topic, value, key, partition, headers=headers)
        self.outstanding.add_raw(key, value, partition, headers)

    def produce_dead_letter(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]], error_type: str
    ) -> None:
        """One dead letter, held until its delivery report."""
        seq = self.outstanding.add_dlq(Unconfirmed(topic, -1, key, value, headers, "", error_type))
        try:
            self._produce(
                topic, value, key, -1, headers=headers, on_delivery=partial(self._on_dlq, error_type, seq)
            )
        except BaseException:
            self.outstanding.dlq.pop(seq, None)  # not handed over (e.g. too large): the caller decides
            raise

    def _check_stall(self) -> None:
        """Replaces a producer that holds rows, talks to a broker that answers, and reports nothing."""
        now = time.monotonic()
        if len(self.producer) == 0:
            self._waiting_since = None
            return
        if self._waiting_since is None:
            self._waiting_since = now
        if self._start_offsets is None or self._recovering:
            return
        if now - max(self._last_report, self._waiting_since) < STALL_S:
            return
        try:  # a new client: the stuck one may get no metadata although the broker is up
            topic_partitions(self._bootstrap, [self.topic], timeout=5)
        except KafkaServiceError:
            self._last_report = now  # an outage: waiting is right, librdkafka reconnects by itself
            return
        log.warning(
            "no delivery report for %.0f s with %d record(s) outstanding while the broker answers: "
            "replacing the Kafka producer (rows already written are found by key, not sent twice)",
            now - self._last_report,
            len(self.producer),
        )
        self._recover()

    # -- unconfirmed rows ------------------------------------------------------------------------
    def _recover(self) -> None:
        """Drops the current producer and resolves every unconfirmed row on a fresh one.

        Purged rows join the unconfirmed ones; those whose key is in the topic since the replay
        started count as published, the others are produced again (in their original order).
        """
        self._recovering = True
        try:
            self._resolve_unconfirmed()
        finally:
            self._recovering = False

    def _resolve_unconfirmed(self) -> None:
        old = self.producer
        old.purge(in_queue=True, in_flight=True, blocking=True)
        deadline = time.monotonic() + PURGE_REPORT_WAIT_S
        while len(old) and time.monotonic() < deadline:
            old.poll(0.1)  # delivery reports of the purged records -> self._unconfirmed
        silent = self.outstanding.take(self.topic, "no delivery report from the replaced Kafka client")
        if silent:
            log.warning(
                "%d record(s) got no delivery report from the replaced Kafka client: looking them up by key",
                len(silent),
            )
            self._unconfirmed.extend(silent)
        self.producer = self._new_producer()
        self._last_report, self._waiting_since = time.monotonic(), None
        del old
        rows, self._unconfirmed = self._unconfirmed, []
        if not rows:
            return
        assert self._start_offsets is not None
        try:
            present = self._keys_present(rows, self._start_offsets)
        except Exception as exc:  # cannot tell what is written: keep them aside for the next round
            log.warning("cannot check %d unconfirmed record(s) in Kafka: %s", len(rows), exc)
            self._unconfirmed = rows
            return
        # A keyless dead letter cannot be looked up: it is sent again (at worst a duplicate dead letter).
        again = [row for row in rows if row.key is None or row.key not in present[row.topic]]
        log.warning(
            "%d unconfirmed record(s): %d already in Kafka, %d sent again",
            len(rows), len(rows) - len(again), len(again),
        )  # fmt: skip
        self._count_found(row for row in rows if row.key is not None and row.key in present[row.topic])
        # Purge reports come queued-first, in-flight last: event time restores each partition's order.
        for row in sorted((r for r in again if r.error_type is None), key=_event_time_of):
            assert row.key is not None  # events always have their id as key
            self.produce_raw(row.value, row.key, row.partition, row.headers or [])
        for row in (r for r in again if r.error_type is not None):
            self.produce_dead_letter(row.topic, row.value, row.key, row.headers or [], row.error_type)

    def _keys_present(
        self, rows: list[Unconfirmed], start_offsets: dict[str, dict[int, int]]
    ) -> dict[str, set[bytes]]:
        """Per topic, the keys of ``rows`` written since the replay started."""
        present: dict[str, set[bytes]] = {}
        for topic in {row.topic for row in rows}:
            wanted = {row.key for row in rows if row.topic == topic and row.key is not None}
            since = start_offsets.get(topic, {})
            present[topic] = keys_in_topic(self._bootstrap, topic, since, wanted) if wanted else set()
        return present

    def _count_found(self, rows: Iterable[Unconfirmed]) -> None:
        """Rows found in their topic were delivered after all: count them as acknowledged."""
        c = self.counters
        for row in rows:
            if row.error_type is None:
                c.published += 1
                c.bytes_published += len(row.value)
            else:
                c.dead_lettered += 1
                c.by_error_type[row.error_type] = c.by_error_type.get(row.error_type, 0) + 1

    # -- the end ---------------------------------------------------------------------------------
    def close(self, timeout_s: float) -> int:
        """Flush until every record is acknowledged or failed; returns records still in flight (0 = done).

        Rows that timed out are then looked up in the topic and the absent ones sent again, for up to
        RECOVERY_ROUNDS rounds; what is still unconfirmed after that counts as failed. Rows the client
        still holds after ``timeout_s`` are purged into the same rounds rather than left in limbo.
        """
        remaining = self._flush(timeout_s)
        rounds = 0
        while (
            (self._unconfirmed or remaining) and self._start_offsets is not None and rounds < RECOVERY_ROUNDS
        ):
            rounds += 1
            self._recover()
            remaining = self._flush(timeout_s)
        for row in self._unconfirmed:
            self.counters.note_failure(row.reason)
        self._unconfirmed = []
        return remaining

    def _flush(self, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        remaining = self.producer.flush(1.0)
        while remaining and time.monotonic() < deadline:
            self.producer.flush(5.0)
            self._check_stall()  # may swap in a new producer
            remaining = len(self.producer)
        return remaining


def _event_time_of(row: Unconfirmed) -> int:
    return int(json.loads(row.value)["event_time"])
