"""Replay an Avazu file into Kafka: validated JSON events, schema id header, DLQ, full accounting.

Imports nothing from Airflow: the CLI (:mod:`include.ingest.replay`), the replay DAG and the tests call
:func:`replay` in-process.

How a row travels:

1. The parent process reads the file (``avazu_reader.iter_lines`` + ``event_time.iter_hour_batches``:
   header check, hour range, one hour buffered so event times are known) and routes each line
   to the partition ``crc32(event id) % partitions``, which is exactly librdkafka's default partitioner
   for the key, so keys stay balanced and a later re-publish of the same event lands in the same place.
2. Each partition is owned by exactly one sender (``partition % workers``); blocks of its lines go to
   that sender in file order. A sender encodes them (:mod:`include.ingest.columnar`: parse, economics,
   validation against the *registered* schema, JSON) and produces with an idempotent producer, so every
   partition receives its rows in file order, i.e. in event-time order (Flink's per-partition
   watermarks depend on it).
3. Valid rows go to the raw topic with headers ``schema_id`` (decimal) and ``content-type``; bad rows
   go to the DLQ as dead-letter records (``source: producer``). Delivery callbacks count what the broker
   acknowledged; the run ends with a flush and an :class:`AccountingReport`.

Why processes: encoding is CPU-bound Python (the GIL), so ``workers`` sender processes (fork) share
the work; with ``--pace`` other than ``asap`` one in-process sender is plenty and keeps rows in global
file order for the pacer. Producer settings survive a broker outage: ``message.timeout.ms`` 300 s, the
idempotent producer retries without duplicates, and a full local queue makes the sender wait. Rows
whose delivery still ends unconfirmed (timed out, or purged from a producer that stayed stuck after
the broker came back) are looked up by key in the topic and sent again only if absent
(:mod:`include.ingest.redelivery`).
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import queue
import time
import uuid
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from operator import itemgetter, methodcaller
from pathlib import Path
from typing import Any

import numpy as np

from include import config
from include.ingest.accounting import AccountingReport, Counters
from include.ingest.avazu_reader import iter_lines, open_avazu
from include.ingest.columnar import BlockEncoder, ColumnValidator
from include.ingest.economics import PriceModel, load_price_model
from include.ingest.end_of_input import (
    MARK_INTERVAL_S,
    MARKER_HEADERS,
    end_of_input_time,
    marker_value,
    send_markers,
    wake_up,
)
from include.ingest.event_time import HourBatch, hour_start_ms, iter_hour_batches, normalize_hour
from include.ingest.events import dead_letter_for
from include.ingest.metrics import ReplayMetrics
from include.ingest.pacing import Pace, Pacer
from include.ingest.records import AvazuFormatError, RowError
from include.ingest.redelivery import (
    Unconfirmed,
    high_watermarks,
    keys_in_topic,
    needs_recheck,
    unconfirmed_from,
)

log = logging.getLogger(__name__)

BLOCK_ROWS = 1024
QUEUE_BLOCKS = 64
STATS_INTERVAL_S = 0.5
# A sender whose producer has rows outstanding, a broker that answers, and no delivery report for this
# long is stuck: it replaces its producer (see Sender._recover). Generous next to librdkafka's 30 s
# request timeout, so a slow broker is never mistaken for a stuck client.
STALL_S = 90.0
RECOVERY_ROUNDS = 3
_FIRST_FIELD = methodcaller("split", b",", 1)
_HEAD = itemgetter(0)

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


class ReplayError(Exception):
    """A replay that cannot start or cannot finish; ``str()`` is one line for a human, no traceback.

    ``exit_code``: 2 for a problem with the input (file, format, range), 3 for an unreachable or
    unprepared service (broker, registry, topic). ``report`` is set when some rows were already sent.
    """

    exit_code = 1

    def __init__(self, message: str, report: AccountingReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class InputError(ReplayError):
    exit_code = 2


class ServiceError(ReplayError):
    exit_code = 3


@dataclass(frozen=True)
class ReplayOptions:
    """What to replay and where. Unset endpoints and topics come from :mod:`include.config`.

    :param file: Avazu CSV, plain or gzip.
    :param hour_from: first hour (YYMMDDHH, inclusive); default the file's first.
    :param hour_to: last hour (inclusive); default the file's last.
    :param pace: :class:`Pace` (default asap).
    :param topic: raw topic (default setting ``TOPIC_RAW``).
    :param dlq_topic: dead-letter topic (default ``TOPIC_DLQ``).
    :param workers: sender processes for ``asap`` (default: one per partition, at most 3); paced
        replays always use one in-process sender.
    :param replay_id: names the run in logs, metrics and client ids (default: time + random suffix).
    :param progress: show a tqdm bar on stderr.
    :param push_interval_s: seconds between two metric pushes while running (default 5).
    :param end_of_input: after a complete, non-live replay, publish the end-of-input markers that let
        the streaming job close the last windows (:mod:`include.ingest.end_of_input`).
    """

    file: Path
    hour_from: str | None = None
    hour_to: str | None = None
    pace: Pace = field(default_factory=Pace)
    topic: str | None = None
    dlq_topic: str | None = None
    workers: int | None = None
    replay_id: str | None = None
    progress: bool = False
    push_interval_s: float = 5.0
    bootstrap_servers: str | None = None
    registry_url: str | None = None
    subject: str | None = None
    pushgateway_url: str | None = None
    price_model_path: str | None = None
    kafka_overrides: dict[str, Any] = field(default_factory=dict)
    end_of_input: bool = True


@dataclass(slots=True)
class Block:
    """Lines of one hour bound for one sender, in file order (pickled to worker processes).

    ``positions[k]``: line k's index within its hour of ``hour_rows`` rows (for its event time);
    ``partitions[k]``: its partition.
    """

    payload: bytes
    positions: array
    partitions: bytes
    hour: bytes | None
    hour_start: int | None
    hour_rows: int
    first_line_no: int
    hour_error: str | None = None


def new_replay_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def check_input(path: Path, hour_from: str | None, hour_to: str | None) -> None:
    """Fail fast, in one line, on a missing/unreadable file, a bad header or malformed hour bounds."""
    if not path.exists():
        raise InputError(f"file not found: {path}")
    if not path.is_file():
        raise InputError(f"not a file: {path}")
    try:
        with open_avazu(path) as stream:
            next(iter_lines(stream), None)
    except AvazuFormatError as exc:
        raise InputError(f"{path}: {exc}") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    try:
        low, high = normalize_hour(hour_from), normalize_hour(hour_to)
    except ValueError as exc:
        raise InputError(f"bad hour range: {exc}") from None
    if low is not None and high is not None and low > high:
        raise InputError(f"bad hour range: from {hour_from} is after to {hour_to}")


def fetch_schema(registry_url: str, subject: str) -> tuple[int, dict[str, Any]]:
    """The latest schema registered under ``subject``: ``(id, schema)``. Raises ServiceError."""
    import requests

    from include.schema_registry import SchemaRegistryClient, SchemaRegistryError

    try:
        registered = SchemaRegistryClient(registry_url, timeout=10).latest(subject)
    except requests.RequestException as exc:
        raise ServiceError(
            f"schema registry unreachable at {registry_url} ({type(exc).__name__}); is the stack up (make status)?"
        ) from None
    except SchemaRegistryError as exc:
        raise ServiceError(f"schema registry error: {exc}") from None
    if registered is None:
        raise ServiceError(
            f"no schema registered under subject {subject!r} at {registry_url}: run dag_platform_bootstrap"
        )
    try:
        schema = json.loads(registered.schema)
    except ValueError as exc:
        raise ServiceError(f"schema id {registered.id} under {subject!r} is not JSON: {exc}") from None
    return registered.id, schema


def topic_partitions(bootstrap: str, topics: list[str], timeout: float = 10.0) -> dict[str, int]:
    """Partition count of each topic; ServiceError when the broker is unreachable or a topic is missing.

    The metadata client is destroyed before returning: senders are forked afterwards and must not
    inherit a live librdkafka instance.
    """
    from confluent_kafka import KafkaException, Producer

    # log_level 0: an unreachable broker is reported once, by the ServiceError, not by librdkafka's log.
    client = Producer(
        {"bootstrap.servers": bootstrap, "socket.timeout.ms": int(timeout * 1000), "log_level": 0}
    )
    try:
        metadata = client.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise ServiceError(
            f"Kafka unreachable at {bootstrap} ({exc.args[0].str() if exc.args else exc}); is the broker up?"
        ) from None
    finally:
        del client
    counts: dict[str, int] = {}
    for name in topics:
        found = metadata.topics.get(name)
        if found is None or found.error is not None or not found.partitions:
            raise ServiceError(
                f"topic {name!r} does not exist on {bootstrap}: run dag_platform_bootstrap or create it"
            )
        counts[name] = len(found.partitions)
    return counts


class Sender:
    """Encodes blocks and produces them; one per worker process (or one in-process)."""

    def __init__(
        self,
        kafka_conf: dict[str, Any],
        topic: str,
        dlq_topic: str,
        schema_id: int,
        schema: dict[str, Any],
        model: PriceModel,
        pacer: Pacer | None,
        source_file: str,
        start_offsets: dict[str, dict[int, int]] | None = None,
    ) -> None:
        self.counters = Counters()
        self.topic = topic
        self.dlq_topic = dlq_topic
        self.pacer = pacer if pacer is not None and pacer.pace.paced else None
        self.headers = [("schema_id", str(schema_id).encode()), ("content-type", b"application/json")]
        self._source_file = source_file.encode()
        offset = pacer.time_offset_ms if pacer is not None else 0
        self.encoder = BlockEncoder(ColumnValidator(schema), model, time_offset_ms=offset)
        self._kafka_conf = kafka_conf
        self._bootstrap = str(kafka_conf["bootstrap.servers"])
        self.producer = self._new_producer()
        # Where the replay started in each partition of the raw and DLQ topics (None: no recheck).
        self._start_offsets = start_offsets
        self._unconfirmed: list[Unconfirmed] = []
        self._last_report = time.monotonic()
        self._waiting_since: float | None = None
        self._recovering = False
        self._errors_logged = 0
        self._time_offset_ms = offset
        # Partitions this sender owns (all, or p % workers == w): markers keep even the empty ones moving.
        self.owned_partitions: set[int] = set()
        self._marked_partitions: set[int] = set()
        self._last_mark = time.monotonic()

    def _new_producer(self) -> Any:
        from confluent_kafka import Producer

        return Producer({**self._kafka_conf, "on_delivery": self._on_raw, "error_cb": self._on_error})

    def _on_error(self, err: Any) -> None:
        """Client-level errors (broker down, ...): librdkafka keeps retrying; fatal ones stop the run."""
        if err.fatal():
            raise RuntimeError(f"fatal Kafka producer error: {err.str()}")
        if self._errors_logged < 5:
            log.warning("Kafka client: %s (retrying until message.timeout.ms)", err.str())
            self._errors_logged += 1

    def _on_raw(self, err: Any, msg: Any) -> None:
        self._last_report = time.monotonic()
        c = self.counters
        if err is None:
            c.published += 1
            c.bytes_published += len(msg)
            c.observe_latency(msg.latency() or 0.0)
        elif self._start_offsets is not None and needs_recheck(err):
            self._unconfirmed.append(unconfirmed_from(err, msg))
        else:
            c.note_failure(f"raw: {err.str()}")

    def _on_dlq(self, error_type: str, err: Any, msg: Any) -> None:
        self._last_report = time.monotonic()
        c = self.counters
        if err is None:
            c.dead_lettered += 1
            c.by_error_type[error_type] = c.by_error_type.get(error_type, 0) + 1
        elif self._start_offsets is not None and needs_recheck(err):
            self._unconfirmed.append(unconfirmed_from(err, msg, error_type))
        else:
            c.note_failure(f"dlq: {err.str()}")

    def _produce(self, topic: str, value: bytes, key: bytes | None, partition: int, **kwargs: Any) -> None:
        """produce(), waiting for room while the local queue is full (e.g. during a broker outage)."""
        while True:
            try:
                self.producer.produce(topic, value, key, partition, **kwargs)
                return
            except BufferError:
                self.producer.poll(0.1)
                self._check_stall()

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
        except ServiceError:
            self._last_report = now  # an outage: waiting is right, librdkafka reconnects by itself
            return
        log.warning(
            "no delivery report for %.0f s with %d record(s) outstanding while the broker answers: "
            "replacing the Kafka producer (rows already written are found by key, not sent twice)",
            now - self._last_report,
            len(self.producer),
        )
        self._recover()

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
        deadline = time.monotonic() + 10
        while len(old) and time.monotonic() < deadline:
            old.poll(0.1)  # delivery reports of the purged records -> self._unconfirmed
        self.producer = self._new_producer()
        self._last_report, self._waiting_since = time.monotonic(), None
        del old
        rows, self._unconfirmed = self._unconfirmed, []
        if not rows:
            return
        assert self._start_offsets is not None
        present: dict[str, set[bytes]] = {}
        try:
            for topic in {row.topic for row in rows}:
                wanted = {row.key for row in rows if row.topic == topic and row.key is not None}
                since = self._start_offsets.get(topic, {})
                present[topic] = keys_in_topic(self._bootstrap, topic, since, wanted) if wanted else set()
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
        c = self.counters
        for row in rows:
            if row.key is not None and row.key in present[row.topic]:
                if row.error_type is None:
                    c.published += 1
                    c.bytes_published += len(row.value)
                else:
                    c.dead_lettered += 1
                    c.by_error_type[row.error_type] = c.by_error_type.get(row.error_type, 0) + 1
        # Purge reports come queued-first, in-flight last: event time restores each partition's order.
        for row in sorted((r for r in again if r.error_type is None), key=_event_time_of):
            self._produce(row.topic, row.value, row.key, row.partition, headers=row.headers)
        for row in (r for r in again if r.error_type is not None):
            on_delivery = partial(self._on_dlq, row.error_type)
            self._produce(row.topic, row.value, row.key, -1, headers=row.headers, on_delivery=on_delivery)

    def dead_letter(self, error: RowError) -> None:
        record = dead_letter_for(error, source="producer", topic=self.topic)
        headers = [("content-type", b"application/json"), ("source_file", self._source_file)]
        if error.line_no is not None:
            headers.append(("line_no", str(error.line_no).encode()))
        if error.event_time is not None:  # the row's event-time slot: a repaired retry keeps its time
            headers.append(("event_time", str(error.event_time).encode()))
        key = error.event_id.encode() if error.event_id else None
        on_delivery = partial(self._on_dlq, error.error_type)
        self._produce(
            self.dlq_topic, json.dumps(record).encode(), key, -1, headers=headers, on_delivery=on_delivery
        )

    def _on_marker(self, err: Any, _msg: Any) -> None:
        if err is not None and self._errors_logged < 5:
            log.warning("watermark marker not delivered: %s (the next one replaces it)", err.str())
            self._errors_logged += 1

    def _maybe_mark(self, block: Block, k: int) -> None:
        """Every MARK_INTERVAL_S, tells the streaming job how far this sender's partitions have got.

        Rows go out in event-time order per sender, so no later row of these partitions is older than
        row ``k``: a marker at its time keeps every partition's watermark moving (none goes idle and
        then wakes up behind the others' watermark, which would make its events late).
        """
        if block.hour_start is None or time.monotonic() - self._last_mark < MARK_INTERVAL_S:
            return
        self._last_mark = time.monotonic()
        event_time = (
            block.hour_start + block.positions[k] * 3_600_000 // block.hour_rows + self._time_offset_ms
        )
        value = marker_value(event_time)
        for partition in sorted(self.owned_partitions | self._marked_partitions):
            self._produce(
                self.topic, value, None, partition, headers=MARKER_HEADERS, on_delivery=self._on_marker
            )

    def handle(self, block: Block) -> None:
        lines = block.payload.split(b"\n")
        out = self.encoder.encode(
            lines,
            block.positions,
            block.hour,
            block.hour_start,
            block.hour_rows,
            block.first_line_no,
            block.hour_error,
        )
        self.counters.handled += len(out)
        produce, topic, headers, parts = self.producer.produce, self.topic, self.headers, block.partitions
        due_times = self._due_times(block) if self.pacer is not None else None
        self._marked_partitions.update(parts)
        for k, item in enumerate(out):
            if due_times is not None:
                wait = due_times[k] - time.monotonic()
                if wait > 0.002:
                    if k:
                        self._maybe_mark(block, k - 1)
                    self.producer.poll(0)
                    time.sleep(wait)
            if type(item) is tuple:
                try:
                    produce(topic, item[1], item[0], parts[k], headers=headers)
                except BufferError:
                    self._produce(topic, item[1], item[0], parts[k], headers=headers)
            else:
                self.dead_letter(item)  # type: ignore[arg-type]
        if out:
            self._maybe_mark(block, len(out) - 1)
        self.producer.poll(0)
        self._check_stall()
        self.counters.fast_rows = self.encoder.fast_rows
        self.counters.reference_rows = self.encoder.reference_rows

    def _due_times(self, block: Block) -> list[float | None]:
        assert self.pacer is not None
        if block.hour_start is None:
            return [None] * len(block.positions)  # type: ignore[list-item]
        start, n = block.hour_start, block.hour_rows
        return [self.pacer.due(start + i * 3_600_000 // n) or 0.0 for i in block.positions]

    def close(self, timeout_s: float) -> int:
        """Flush until every record is acknowledged or failed; returns records still in flight (0 = done).

        Rows that timed out are then looked up in the topic and the absent ones sent again, for up to
        RECOVERY_ROUNDS rounds; what is still unconfirmed after that counts as failed.
        """
        remaining = self._flush(timeout_s)
        rounds = 0
        while self._unconfirmed and not remaining and rounds < RECOVERY_ROUNDS:
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


def _route(batch: HourBatch, partitions: int) -> np.ndarray:
    """Partition of each line: crc32 of its first field (the event id) modulo the partition count.

    ``crc32(key) % n`` is librdkafka's default (``consistent_random``) partitioner for a keyed record.
    """
    keys = map(_HEAD, map(_FIRST_FIELD, batch.lines))
    return (np.fromiter(map(zlib.crc32, keys), dtype=np.uint32, count=len(batch.lines)) % partitions).astype(
        np.uint8
    )


def _blocks(
    batches: Iterator[HourBatch], partitions: int, workers: int
) -> Iterator[tuple[int, Block, HourBatch]]:
    """``(worker, block, batch)`` in file order per worker; worker w owns partitions p with p % workers == w."""
    for batch in batches:
        lines, n = batch.lines, len(batch.lines)
        hour_error = None
        hour_start = None
        if batch.hour is not None:
            try:
                hour_start = hour_start_ms(batch.hour)
            except ValueError as exc:
                hour_error = str(exc)
        parts = _route(batch, partitions)
        common = (batch.hour, hour_start, n, batch.first_line_no, hour_error)
        if workers == 1:
            for k in range(0, n, BLOCK_ROWS):
                chunk = lines[k : k + BLOCK_ROWS]
                positions = array("l", range(k, k + len(chunk)))
                yield (
                    0,
                    Block(b"\n".join(chunk), positions, parts[k : k + BLOCK_ROWS].tobytes(), *common),
                    batch,
                )
            continue
        owners = parts % workers
        for w in range(workers):
            idx = np.flatnonzero(owners == w)
            for k in range(0, len(idx), BLOCK_ROWS):
                chunk = idx[k : k + BLOCK_ROWS]
                payload = b"\n".join([lines[i] for i in chunk.tolist()])
                yield w, Block(payload, array("l", chunk.tolist()), parts[chunk].tobytes(), *common), batch


def _worker_main(
    wid: int,
    sender_args: tuple[Any, ...],
    inbox: mp.Queue,
    outbox: mp.Queue,
    flush_timeout_s: float,
    owned: tuple[int, ...],
) -> None:
    """A sender process: blocks in, counter snapshots out; ends on None with a flush."""
    sender: Sender | None = None
    try:
        sender = Sender(*sender_args)
        sender.owned_partitions = set(owned)
        last = time.monotonic()
        while (block := inbox.get()) is not None:
            sender.handle(block)
            if time.monotonic() - last >= STATS_INTERVAL_S:
                outbox.put(("stats", wid, sender.counters.copy()))
                last = time.monotonic()
        remaining = sender.close(flush_timeout_s)
        if remaining:
            outbox.put(
                (
                    "error",
                    wid,
                    f"{remaining} record(s) still unacknowledged after the flush timeout",
                    sender.counters.copy(),
                )
            )
        else:
            outbox.put(("done", wid, sender.counters.copy()))
    except BaseException as exc:  # report, never die silently: the parent turns it into unaccounted rows
        counters = sender.counters.copy() if sender is not None else Counters()
        outbox.put(("error", wid, f"{type(exc).__name__}: {exc}", counters))


class _Workers:
    """Sender processes and their latest counter snapshots."""

    def __init__(
        self, count: int, sender_args: tuple[Any, ...], flush_timeout_s: float, partitions: int
    ) -> None:
        ctx = mp.get_context("fork")  # fast start; no librdkafka instance exists in the parent here
        self.outbox: mp.Queue = ctx.Queue()
        self.inboxes: list[mp.Queue] = [ctx.Queue(maxsize=QUEUE_BLOCKS) for _ in range(count)]
        self.snapshots: list[Counters] = [Counters() for _ in range(count)]
        self.finished: set[int] = set()
        self.errors: dict[int, str] = {}
        self.procs = [
            ctx.Process(
                target=_worker_main,
                args=(
                    w,
                    sender_args,
                    self.inboxes[w],
                    self.outbox,
                    flush_timeout_s,
                    tuple(p for p in range(partitions) if p % count == w),
                ),
                name=f"avazu-replay-sender-{w}",
                daemon=True,
            )
            for w in range(count)
        ]
        for proc in self.procs:
            proc.start()

    def drain(self, timeout: float = 0.0) -> None:
        """Read every pending message from the senders (waiting up to ``timeout`` for the first)."""
        block = timeout > 0
        while True:
            try:
                kind, wid, *rest = self.outbox.get(block, timeout) if block else self.outbox.get_nowait()
            except queue.Empty:
                return
            block = False
            if kind == "stats":
                self.snapshots[wid] = rest[0]
            elif kind == "done":
                self.snapshots[wid] = rest[0]
                self.finished.add(wid)
            else:
                self.errors[wid] = rest[0]
                self.snapshots[wid] = rest[1]
                self.finished.add(wid)

    def check_alive(self) -> None:
        for w, proc in enumerate(self.procs):
            if w not in self.finished and not proc.is_alive():
                self.drain()
                if w not in self.finished:
                    self.errors[w] = f"sender process exited with code {proc.exitcode}"
                    self.finished.add(w)

    def send(self, wid: int, block: Block | None, on_wait: Any) -> None:
        while True:
            if wid in self.finished:
                return  # a dead sender: its rows stay unaccounted and fail the replay
            try:
                self.inboxes[wid].put(block, timeout=0.2)
                return
            except queue.Full:
                self.drain()
                self.check_alive()
                on_wait()

    def total(self) -> Counters:
        return Counters.total(self.snapshots)

    def join(self, on_wait: Any) -> None:
        for w in range(len(self.procs)):
            self.send(w, None, on_wait)
        while len(self.finished) < len(self.procs):
            self.drain(timeout=0.2)
            self.check_alive()
            on_wait()
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()


def default_workers(partitions: int) -> int:
    """One sender per partition, at most 4: each owns whole partitions, so the load is balanced only
    when every sender owns the same number of them (3 partitions: 3 senders, even on 2 cores)."""
    return max(1, min(partitions, 4))


def replay(options: ReplayOptions) -> AccountingReport:
    """Replay ``options.file`` and return the accounting; raises :class:`ReplayError` (one-line message)."""
    cfg = config.resolve()
    path = Path(options.file)
    check_input(path, options.hour_from, options.hour_to)
    topic = options.topic or cfg["TOPIC_RAW"]
    dlq_topic = options.dlq_topic or cfg["TOPIC_DLQ"]
    bootstrap = options.bootstrap_servers or cfg["KAFKA_BOOTSTRAP_SERVERS"]
    registry_url = options.registry_url or cfg["SCHEMA_REGISTRY_URL"]
    subject = options.subject or cfg["SCHEMA_SUBJECT"]
    replay_id = options.replay_id or new_replay_id()
    pushgateway = cfg["PUSHGATEWAY_URL"] if options.pushgateway_url is None else options.pushgateway_url

    # The file first: an empty range is an input error, reported before any service is contacted.
    with open_avazu(path) as stream:
        batches = iter_hour_batches(iter_lines(stream), options.hour_from, options.hour_to)
        try:
            first = next(batches, None)
        except AvazuFormatError as exc:
            raise InputError(f"{path}: {exc}") from None
        if first is None:
            raise InputError(_empty_range_message(path, options))
        schema_id, schema = fetch_schema(registry_url, subject)
        validator = ColumnValidator(schema)  # fail here, once, if the registered schema does not compile
        if not validator.fast:
            log.warning(
                "schema id %s uses keywords the column checks do not know: validating row by row", schema_id
            )
        partitions = topic_partitions(bootstrap, [topic, dlq_topic])[topic]
        # Before any sender exists: the rows of this replay are after these offsets (redelivery checks).
        start_offsets = {name: high_watermarks(bootstrap, name) for name in (topic, dlq_topic)}
        model = load_price_model(options.price_model_path)
        workers = 1 if options.pace.paced else (options.workers or default_workers(partitions))
        kafka_conf = {
            "bootstrap.servers": bootstrap,
            "client.id": f"avazu-replay-{replay_id}",
            **PRODUCER_DEFAULTS,
            **options.kafka_overrides,
        }
        flush_timeout_s = float(kafka_conf["message.timeout.ms"]) / 1000 + 30
        log.info(
            "replay %s: %s hours %s..%s -> %s (%d partitions, schema id %d), DLQ %s, pace %s, %d sender(s)",
            replay_id, path, options.hour_from or "first", options.hour_to or "last", topic, partitions,
            schema_id, dlq_topic, options.pace, workers,
        )  # fmt: skip

        metrics = ReplayMetrics(pushgateway, replay_id, topic, options.push_interval_s)
        bar = _progress_bar(path, options) if options.progress else None
        start = time.monotonic()
        rows_read = 0
        sender: Sender | None = None
        pool: _Workers | None = None
        stopped: ReplayError | None = None
        last_hour_start: int | None = None

        def totals() -> Counters:
            if pool is not None:
                return pool.total()
            return sender.counters.copy() if sender is not None else Counters()

        def tick() -> None:
            current = totals()
            metrics.update(current, rows_read)
            metrics.maybe_push()
            if bar is not None:
                done = current.published + current.dead_lettered + current.failed
                bar.update(done - bar.n)

        first_event_ms = hour_start_ms(first.hour) if first.hour is not None else 0
        pacer = Pacer(options.pace, first_event_ms, time.monotonic(), int(time.time() * 1000))
        sender_args = (
            kafka_conf,
            topic,
            dlq_topic,
            schema_id,
            schema,
            model,
            pacer,
            str(path),
            start_offsets,
        )
        if workers == 1:
            sender = Sender(*sender_args)
            sender.owned_partitions = set(range(partitions))
        else:
            pool = _Workers(workers, sender_args, flush_timeout_s, partitions)
        if first.hour is not None:
            # After the senders exist (forking after a librdkafka client is created is unsafe).
            wake_up(kafka_conf, topic, partitions, first_event_ms + pacer.time_offset_ms)

        def all_batches() -> Iterator[HourBatch]:
            yield first
            yield from batches

        try:
            last_tick = 0.0
            for wid, block, _batch in _blocks(all_batches(), partitions, workers):
                rows_read += len(block.positions)
                last_hour_start = block.hour_start if block.hour_start is not None else last_hour_start
                if pool is not None:
                    pool.send(wid, block, tick)
                    pool.drain()
                else:
                    assert sender is not None
                    sender.handle(block)
                if time.monotonic() - last_tick >= STATS_INTERVAL_S:
                    tick()
                    last_tick = time.monotonic()
        except AvazuFormatError as exc:  # unsorted input found mid-file: stop, flush what was sent, report
            stopped = InputError(f"{path}: {exc}")
        finally:
            if pool is not None:
                pool.join(tick)
            elif sender is not None:
                remaining = sender.close(flush_timeout_s)
                if remaining:
                    log.error("%d record(s) still unacknowledged after %.0f s", remaining, flush_timeout_s)

    final = totals()
    report = AccountingReport(
        replay_id=replay_id,
        file=str(path),
        topic=topic,
        dlq_topic=dlq_topic,
        schema_id=schema_id,
        pace=str(options.pace),
        workers=workers,
        hour_from=options.hour_from,
        hour_to=options.hour_to,
        rows_read=rows_read,
        published=final.published,
        dead_lettered=final.dead_lettered,
        failed=final.failed,
        by_error_type=final.by_error_type,
        failures=final.failures,
        bytes_published=final.bytes_published,
        elapsed_s=time.monotonic() - start,
        fast_path_rows=final.fast_rows,
    )
    metrics.update(final, rows_read)
    metrics.push(final=True)
    if bar is not None:
        bar.update(report.published + report.dead_lettered + report.failed - bar.n)
        bar.close()
    if pool is not None and pool.errors:
        for wid, message in sorted(pool.errors.items()):
            log.error("sender %d failed: %s", wid, message)
    if stopped is not None:
        stopped.report = report
        raise stopped
    if options.end_of_input and options.pace.mode != "live" and last_hour_start is not None and report.ok:
        try:
            send_markers(kafka_conf, topic, partitions, end_of_input_time(last_hour_start))
        except Exception as exc:  # every event is delivered; only the closing of the last windows waits
            log.warning("%s: the last windows close with the next replay instead", exc)
    log.info("replay %s finished: %s", replay_id, "OK" if report.ok else "FAILED (see accounting)")
    return report


def _empty_range_message(path: Path, options: ReplayOptions) -> str:
    if options.hour_from is None and options.hour_to is None:
        return f"{path} has no data rows"
    from include.ingest.ranges import file_hour_span

    span = file_hour_span(path)
    hours = f"the file has hours {span.first}..{span.last}" if span else "no row has a readable hour"
    return f"no rows in hours {options.hour_from or 'first'}..{options.hour_to or 'last'} of {path} ({hours})"


def _progress_bar(path: Path, options: ReplayOptions) -> Any:
    """A tqdm bar on stderr; its total (hence the ETA) is known for a whole plain-text file."""
    import sys

    from tqdm import tqdm

    total = None
    if options.hour_from is None and options.hour_to is None:
        with open(path, "rb") as probe:
            plain = probe.read(2) != b"\x1f\x8b"
        if plain:
            total = _count_data_lines(path)
    return tqdm(total=total, unit="rows", unit_scale=True, file=sys.stderr, smoothing=0.1, dynamic_ncols=True)


def _count_data_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count - 1 + (last != b"\n")
