"""The DLQ drain loop: read dead letters, retry the due ones, republish, re-enqueue or give up.

Topics (``T`` = the DLQ topic, setting ``TOPIC_DLQ``; ``N`` = ``DLQ_RETRY_MAX_ATTEMPTS``):

- ``T`` (level 0): first failures, written by the producer and by Flink. Never written here.
- ``T_retry_1`` .. ``T_retry_{N-1}`` (level k): dead letters whose attempt k failed, waiting for
  attempt k+1. The value is the original DLQ record's bytes, unchanged; the retry state is in
  headers: ``dlq-origin`` (``topic:partition:offset`` of the dead letter in ``T``: its identity
  for good), ``dlq-attempts`` (k), ``dlq-last-error-type``, ``dlq-last-error``.

Backoff without blocking: attempt k+1 is due ``delay(k+1)`` after the record reached level k (its
Kafka timestamp). Within one level every record waits the same delay, so records become due in
offset order: the loop stops reading a partition at its first record that is not due (that
offset is committed, nothing is skipped) and carries on with the other partitions and levels. No
record is ever copied just to wait, and an old failure never waits behind a young one of another
level.

One run reads each partition up to the high watermark it had when the run started (records the
run re-enqueues itself wait for a later run), with consumer group ``DLQ_RETRY_GROUP`` and
``isolation.level=read_committed`` (Flink writes the DLQ in transactions).

Per record: an error type in ``DLQ_RETRY_NON_RETRYABLE`` (or a record that is not dead-letter JSON)
is stored as permanent at once (one ``non_retryable`` row in ``errors.retry_history``). Otherwise,
when due: the repair rules, then the producer's parsing and validation (:mod:`include.dlq.attempt`).
Valid -> republished to the raw topic exactly as the producer would (key = event id, partition
``crc32(key) % partitions``, header ``schema_id``) plus ``dlq-origin`` / ``dlq-attempt`` /
``dlq-repairs``. Invalid -> re-enqueued one level up, or, after the last attempt, stored in
``errors.dlq_errors``. Every attempt is one row of ``errors.retry_history``.

Exactly once, also when the task is killed midway (docs/dlq.md has the full argument): records are
handled in batches of ``DLQ_RETRY_BATCH``. For each batch (1) the PostgreSQL rows are inserted with
``ON CONFLICT DO NOTHING`` on their natural keys and committed, then (2) one Kafka transaction holds
every record the batch produced (republished events, re-enqueued dead letters) *and* the consumer
offsets of the batch (``send_offsets_to_transaction``). A kill before (2) commits aborts the
transaction (the next run's ``init_transactions`` with the same ``transactional.id`` fences and
aborts it): nothing produced is visible to read_committed readers (Flink reads the raw topic that
way) and the offsets are not advanced, so the next run redoes the batch; the outcome is
deterministic, its PostgreSQL rows already exist and are not duplicated. A kill after (2) lost
nothing. Republished records also carry ``dlq-origin``, a deterministic id a read_uncommitted
consumer can deduplicate on.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include import config
from include.dlq import settings
from include.dlq.attempt import Repaired, StillBad, attempt
from include.dlq.backoff import BackoffPolicy

log = logging.getLogger(__name__)

HDR_ORIGIN = "dlq-origin"
HDR_ATTEMPTS = "dlq-attempts"
HDR_ATTEMPT = "dlq-attempt"
HDR_LAST_ERROR_TYPE = "dlq-last-error-type"
HDR_LAST_ERROR = "dlq-last-error"
HDR_REPAIRS = "dlq-repairs"
_OWN_HEADERS = {HDR_ORIGIN, HDR_ATTEMPTS, HDR_ATTEMPT, HDR_LAST_ERROR_TYPE, HDR_LAST_ERROR, HDR_REPAIRS}
_MAX_HEADER = 500
_EXAMPLES = 5

INSERT_HISTORY = """
INSERT INTO errors.retry_history (dlq_topic, dlq_partition, dlq_offset, attempt, event_id, outcome,
    error_type, error_message, repairs, republished_to, run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (dlq_topic, dlq_partition, dlq_offset, attempt) DO NOTHING
"""
INSERT_PERMANENT = """
INSERT INTO errors.dlq_errors (dlq_topic, dlq_partition, dlq_offset, event_id, raw_payload, error_type,
    error_message, stacktrace, retry_count, error_timestamp, source, source_topic, source_partition,
    source_offset, final_error_type, final_error_message, reason, run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (dlq_topic, dlq_partition, dlq_offset) DO NOTHING
"""


def retry_topic(dlq_topic: str, level: int) -> str:
    """The topic of dead letters whose attempt ``level`` failed."""
    return f"{dlq_topic}_retry_{level}"


@dataclass(frozen=True)
class DrainOptions:
    """One drain run. Unset values come from :mod:`include.config` (settings ``DLQ_*``, topics)."""

    dlq_topic: str | None = None
    raw_topic: str | None = None
    group_id: str | None = None
    policy: BackoffPolicy | None = None
    non_retryable: frozenset[str] | None = None
    batch_size: int | None = None
    max_run_s: float | None = None
    run_id: str | None = None
    bootstrap_servers: str | None = None
    registry_url: str | None = None
    subject: str | None = None
    pushgateway_url: str | None = None
    price_model_path: str | None = None
    record_delay_s: float = 0.0  # test hook: slows the loop so a test can kill it midway


@dataclass
class GaveUp:
    """A dead letter stored as permanent by this run (for the Slack summary)."""

    origin: str
    event_id: str | None
    error_type: str
    final_error_type: str
    message: str
    reason: str
    attempts: int


@dataclass
class DrainReport:
    run_id: str
    dlq_topic: str
    raw_topic: str
    group_id: str
    read: int = 0
    retried: int = 0  # retry attempts made (repair + validation)
    republished: int = 0  # attempts that succeeded: the event is in the raw topic
    repaired: int = 0  # republished events that needed at least one repair rule
    requeued: int = 0  # failed attempts waiting for the next one
    permanent: int = 0  # stored in errors.dlq_errors by this run
    permanent_by_type: dict[str, int] = field(default_factory=dict)
    waiting_partitions: list[str] = field(default_factory=list)  # stopped at a record not yet due
    depth: dict[str, int] = field(default_factory=dict)  # records left per input topic after the run
    batches: int = 0
    examples: list[GaveUp] = field(default_factory=list)
    elapsed_s: float = 0.0
    timed_out: bool = False

    @property
    def total_depth(self) -> int:
        return sum(self.depth.values())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["total_depth"] = self.total_depth
        return out

    def summary(self) -> str:
        return (
            f"DLQ retry {self.run_id}: read {self.read}, retried {self.retried}, republished "
            f"{self.republished} (repaired {self.repaired}), re-enqueued {self.requeued}, permanent "
            f"{self.permanent}, depth {self.total_depth}"
        )

    def slack_text(self) -> str | None:
        """The run's one Slack message, or None when nothing failed permanently."""
        if not self.permanent:
            return None
        types = ", ".join(f"{t} {n}" for t, n in sorted(self.permanent_by_type.items(), key=lambda x: -x[1]))
        lines = [
            f":rotating_light: DLQ retry: {self.permanent} dead letter(s) from {self.dlq_topic} failed "
            f"permanently and are in errors.dlq_errors",
            f"run: {self.run_id}  by error type: {types}",
            f"this run: read {self.read}, retried {self.retried}, republished {self.republished} "
            f"(repaired {self.repaired}) to {self.raw_topic}, waiting for a retry {self.requeued}, "
            f"DLQ depth {self.total_depth}",
            "examples:",
        ]
        for ex in self.examples:
            lines.append(
                f"  - {ex.origin} event {ex.event_id or '?'}: {ex.final_error_type}: {ex.message[:160]} "
                f"({ex.reason}, {ex.attempts} attempt(s))"
            )
        lines.append(
            "query: SELECT * FROM errors.dlq_errors ORDER BY failed_at DESC; runbook: docs/dlq.md#operations"
        )
        return "\n".join(lines)


class _Batch:
    """What one batch will write: PostgreSQL rows; the Kafka side lives in the open transaction."""

    def __init__(self) -> None:
        self.history: list[tuple[Any, ...]] = []
        self.permanent: list[tuple[Any, ...]] = []
        self.offsets: dict[tuple[str, int], int] = {}
        self.records = 0


def _headers(msg: Any) -> dict[str, bytes]:
    return {k: v for k, v in (msg.headers() or []) if v is not None}


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", errors="replace") if value else ""


def _parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _origin(value: bytes | None) -> tuple[str, int, int] | None:
    """``topic:partition:offset`` of a ``dlq-origin`` header (None when absent or malformed)."""
    topic, _, rest = _text(value).rpartition(":")
    topic, _, part = topic.rpartition(":")
    if not topic or not part.isdigit() or not rest.isdigit():
        return None
    return topic, int(part), int(rest)


def _pg(value: Any) -> Any:
    """PostgreSQL text cannot hold NUL: a payload with one must not stop the drain (poison pill)."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def _clip(text: str) -> bytes:
    return text[:_MAX_HEADER].encode("utf-8", errors="replace")


class Drainer:
    """One run of the drain loop (use :func:`drain`)."""

    def __init__(self, options: DrainOptions, conn: Any) -> None:
        cfg = settings.resolve()
        self.conn = conn
        self.dlq_topic = options.dlq_topic or cfg["TOPIC_DLQ"]
        self.raw_topic = options.raw_topic or cfg["TOPIC_RAW"]
        self.group_id = options.group_id or cfg["DLQ_RETRY_GROUP"]
        self.policy = options.policy or BackoffPolicy.from_config(cfg)
        self.non_retryable = (
            options.non_retryable
            if options.non_retryable is not None
            else frozenset(t.strip() for t in cfg["DLQ_RETRY_NON_RETRYABLE"].split(",") if t.strip())
        )
        self.batch_size = max(1, options.batch_size or int(cfg["DLQ_RETRY_BATCH"]))
        self.max_run_s = (
            options.max_run_s if options.max_run_s is not None else float(cfg["DLQ_RETRY_MAX_RUN_S"])
        )
        self.bootstrap = options.bootstrap_servers or cfg["KAFKA_BOOTSTRAP_SERVERS"]
        self.registry_url = options.registry_url or cfg["SCHEMA_REGISTRY_URL"]
        self.subject = options.subject or cfg["SCHEMA_SUBJECT"]
        self.pushgateway = (
            cfg["PUSHGATEWAY_URL"] if options.pushgateway_url is None else options.pushgateway_url
        )
        self.price_model_path = options.price_model_path
        self.record_delay_s = options.record_delay_s
        run_id = options.run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
        self.report = DrainReport(run_id, self.dlq_topic, self.raw_topic, self.group_id)
        self._prior: dict[str, set[tuple[str, int, int]]] = {}
        self.levels = {self.dlq_topic: 0}
        for k in range(1, self.policy.max_attempts):
            self.levels[retry_topic(self.dlq_topic, k)] = k

    # -- setup -------------------------------------------------------------------------------
    def _prepare(self) -> None:
        from confluent_kafka import Consumer, Producer
        from confluent_kafka.admin import AdminClient

        from include.ingest.economics import load_price_model
        from include.ingest.events import compile_validator
        from include.ingest.producer import fetch_schema, topic_partitions
        from include.kafka.topics import TopicSpec, ensure_topics

        self.schema_id, schema = fetch_schema(self.registry_url, self.subject)
        self.validator = compile_validator(schema)
        self.model = load_price_model(self.price_model_path)
        counts = topic_partitions(self.bootstrap, [self.raw_topic, self.dlq_topic])
        self.raw_partitions = counts[self.raw_topic]
        rf = int(settings.resolve()["KAFKA_REPLICATION_FACTOR"])
        specs = [
            TopicSpec(t, counts[self.dlq_topic], rf, {"retention.ms": str(30 * 24 * 3600 * 1000)})
            for t, level in self.levels.items()
            if level > 0
        ]
        if specs:
            ensure_topics(AdminClient({"bootstrap.servers": self.bootstrap}), specs)
        self.producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "transactional.id": f"{self.group_id}.{self.dlq_topic}",
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "compression.type": "lz4",
                "transaction.timeout.ms": 120_000,
            }
        )
        # Fences a killed earlier run with the same transactional.id and aborts its open transaction.
        self.producer.init_transactions(60)
        self.consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": self.group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                "client.id": f"dlq-retry-{self.report.run_id}",
            }
        )

    def _assign(self) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
        """Start offsets (committed, else the earliest) and end offsets (high watermarks now)."""
        from confluent_kafka import TopicPartition

        tps = []
        meta = self.consumer.list_topics(timeout=10)
        for topic in self.levels:
            for p in sorted(meta.topics[topic].partitions):
                tps.append(TopicPartition(topic, p))
        committed = self.consumer.committed(tps, timeout=30)
        starts: dict[tuple[str, int], int] = {}
        ends: dict[tuple[str, int], int] = {}
        for tp in committed:
            low, high = self.consumer.get_watermark_offsets(
                TopicPartition(tp.topic, tp.partition), timeout=10
            )
            key = (tp.topic, tp.partition)
            starts[key] = tp.offset if tp.offset >= 0 else low
            starts[key] = max(starts[key], low)  # retention may have deleted records below the commit
            ends[key] = high
        return starts, ends

    # -- one record ----------------------------------------------------------------------------
    def _handle(self, msg: Any, batch: _Batch, now_ms: int) -> bool:
        """Handle one record; False when it is not due yet (the partition stops there)."""
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        level = self.levels[topic]
        headers = _headers(msg)
        if level == 0:
            origin = (topic, partition, offset)
            attempts_done = 0
        else:
            origin = _origin(headers.get(HDR_ORIGIN)) or (topic, partition, offset)
            attempts = _text(headers.get(HDR_ATTEMPTS))
            attempts_done = int(attempts) if attempts.isdigit() else level
        ts_type, ts = msg.timestamp()
        reached_ms = ts if ts and ts > 0 else 0
        try:
            record = json.loads(msg.value() or b"")
            if not isinstance(record, dict) or not isinstance(record.get("raw_payload"), str):
                raise ValueError("not a dead-letter record")
        except ValueError:
            record = {
                "raw_payload": _text(msg.value()),
                "error_type": "parsing",
                "error_message": "the DLQ record is not dead-letter JSON (docs/dlq.md)",
                "source": "dlq_retry",
            }
            bad_record = True
        else:
            bad_record = False
        error_type = str(record.get("error_type") or "parsing")
        event_id = record.get("event_id") if isinstance(record.get("event_id"), str) else None

        if level == 0 and (bad_record or error_type in self.non_retryable):
            self.report.read += 1
            message = str(record.get("error_message") or "")
            batch.history.append(
                (*origin, 1, event_id, "non_retryable", error_type, message, [], None, self.report.run_id)
            )
            self._give_up(batch, origin, record, error_type, message, "non_retryable", 1, event_id)
            return True

        # Republishes of this event from *other* dead letters: this record's own row may exist already
        # when a killed run committed its PostgreSQL rows but not its Kafka transaction.
        earlier = self._prior.get(event_id or "", set()) - {origin}
        if level == 0 and record.get("source") == "flink" and earlier:
            # Flink dead-lettered an event this retry republished before: the attempts spent on the
            # earlier dead letters count, so a repair Flink keeps rejecting cannot loop forever.
            attempts_done = len(earlier)
            if attempts_done >= self.policy.max_attempts:
                self.report.read += 1
                message = f"dead-lettered again by flink after {attempts_done} republish(es) by the DLQ retry"
                batch.history.append(
                    (*origin, attempts_done + 1, event_id, "gave_up", error_type, message, [], None,
                     self.report.run_id)
                )  # fmt: skip
                self._give_up(batch, origin, record, error_type, message, "attempts_exhausted", 1, event_id)
                return True
        number = attempts_done + 1
        if not self.policy.is_due(number, reached_ms, now_ms):
            return False
        self.report.read += 1
        event_time = _text(headers.get("event_time"))
        try:
            result: Repaired | StillBad = attempt(
                record["raw_payload"],
                self.validator,
                self.model,
                event_time_ms=int(event_time) if event_time.isdigit() else None,
            )
        except Exception as exc:  # never a poison pill: an unexpected error is this attempt's failure
            log.exception("attempt on %s:%s:%s raised", *origin)
            result = StillBad("parsing", f"retry raised {type(exc).__name__}: {exc}", event_id)
        self.report.retried += 1
        if isinstance(result, Repaired):
            target = zlib.crc32(result.key) % self.raw_partitions
            out_headers = [
                ("schema_id", str(self.schema_id).encode()),
                ("content-type", b"application/json"),
                (HDR_ORIGIN, f"{origin[0]}:{origin[1]}:{origin[2]}".encode()),
                (HDR_ATTEMPT, str(number).encode()),
            ]
            if result.repairs:
                out_headers.append((HDR_REPAIRS, _clip(",".join(result.repairs))))
            self._produce(self.raw_topic, result.value, result.key, target, out_headers)
            batch.history.append(
                (*origin, number, result.event_id, "republished", None, None, result.repairs,
                 f"{self.raw_topic}:{target}", self.report.run_id)
            )  # fmt: skip
            self.report.republished += 1
            self.report.repaired += bool(result.repairs)
            return True
        event_id = result.event_id or event_id
        if self.policy.is_last(number):
            batch.history.append(
                (*origin, number, event_id, "gave_up", result.error_type, result.message, result.repairs,
                 None, self.report.run_id)
            )  # fmt: skip
            self._give_up(
                batch,
                origin,
                record,
                result.error_type,
                result.message,
                "attempts_exhausted",
                number,
                event_id,
            )
            return True
        carried = [(k, v) for k, v in (msg.headers() or []) if k not in _OWN_HEADERS]
        carried += [
            (HDR_ORIGIN, f"{origin[0]}:{origin[1]}:{origin[2]}".encode()),
            (HDR_ATTEMPTS, str(number).encode()),
            (HDR_LAST_ERROR_TYPE, result.error_type.encode()),
            (HDR_LAST_ERROR, _clip(result.message)),
        ]
        self._produce(retry_topic(self.dlq_topic, number), msg.value(), msg.key(), partition, carried)
        batch.history.append(
            (*origin, number, event_id, "failed", result.error_type, result.message, result.repairs, None,
             self.report.run_id)
        )  # fmt: skip
        self.report.requeued += 1
        return True

    def _prior_republishes(self, msgs: list[Any]) -> dict[str, set[tuple[str, int, int]]]:
        """Event id -> the dead letters (origins) it was republished from, for the Flink dead letters
        among ``msgs`` (one query)."""
        ids = set()
        for msg in msgs:
            if msg.error() is None and msg.topic() == self.dlq_topic and b'"flink"' in (msg.value() or b""):
                try:
                    record = json.loads(msg.value())
                except ValueError:
                    continue
                if (
                    isinstance(record, dict)
                    and record.get("source") == "flink"
                    and isinstance(record.get("event_id"), str)
                ):
                    ids.add(record["event_id"])
        if not ids:
            return {}
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT event_id, dlq_topic, dlq_partition, dlq_offset FROM errors.retry_history "
                "WHERE event_id = ANY(%s) AND outcome = 'republished'",
                (sorted(ids),),
            )
            prior: dict[str, set[tuple[str, int, int]]] = {}
            for event_id, topic, partition, offset in cur.fetchall():
                prior.setdefault(event_id, set()).add((topic, int(partition), int(offset)))
            return prior

    def _give_up(
        self,
        batch: _Batch,
        origin: tuple[str, int, int],
        record: dict[str, Any],
        final_type: str,
        final_message: str,
        reason: str,
        attempts: int,
        event_id: str | None,
    ) -> None:
        error_type = str(record.get("error_type") or "parsing")
        source = (
            record.get("source")
            if record.get("source") in ("producer", "flink", "dlq_retry")
            else "dlq_retry"
        )
        batch.permanent.append(
            (
                *origin,
                event_id,
                record["raw_payload"],
                error_type,
                str(record.get("error_message") or ""),
                record.get("stacktrace") if isinstance(record.get("stacktrace"), str) else None,
                attempts,
                _parse_ts(record.get("error_timestamp")),
                source,
                record.get("topic") if isinstance(record.get("topic"), str) else None,
                _int_or_none(record.get("partition")),
                _int_or_none(record.get("offset")),
                final_type,
                final_message,
                reason,
                self.report.run_id,
            )
        )
        self.report.permanent += 1
        self.report.permanent_by_type[error_type] = self.report.permanent_by_type.get(error_type, 0) + 1
        if len(self.report.examples) < _EXAMPLES:
            self.report.examples.append(
                GaveUp(f"{origin[0]}:{origin[1]}:{origin[2]}", event_id, error_type, final_type,
                       final_message, reason, attempts)
            )  # fmt: skip

    def _produce(
        self, topic: str, value: bytes, key: bytes | None, partition: int, headers: list[Any]
    ) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key, partition, headers=headers)
                return
            except BufferError:
                self.producer.poll(0.1)

    # -- batches -------------------------------------------------------------------------------
    def _commit(self, batch: _Batch) -> None:
        """PostgreSQL first (idempotent rows), then one Kafka transaction: produced records + offsets."""
        from confluent_kafka import TopicPartition

        with self.conn.cursor() as cur:
            if batch.history:
                cur.executemany(INSERT_HISTORY, [tuple(map(_pg, row)) for row in batch.history])
            if batch.permanent:
                cur.executemany(INSERT_PERMANENT, [tuple(map(_pg, row)) for row in batch.permanent])
        self.conn.commit()
        if batch.offsets:
            offsets = [TopicPartition(t, p, o) for (t, p), o in batch.offsets.items()]
            self.producer.send_offsets_to_transaction(offsets, self.consumer.consumer_group_metadata(), 60)
        self.producer.commit_transaction(120)
        self.report.batches += 1

    def run(self) -> DrainReport:
        from confluent_kafka import KafkaError, KafkaException, TopicPartition

        started = time.monotonic()
        self._prepare()
        try:
            starts, ends = self._assign()
            active = {tp for tp in starts if starts[tp] < ends[tp]}
            positions = dict(starts)
            if active:
                self.consumer.assign([TopicPartition(t, p, starts[(t, p)]) for t, p in sorted(active)])
            batch = _Batch()
            self.producer.begin_transaction()
            idle_since = time.monotonic()
            while active:
                if time.monotonic() - started > self.max_run_s:
                    self.report.timed_out = True
                    log.warning("DLQ retry %s: max run time reached, the rest waits", self.report.run_id)
                    break
                msgs = self.consumer.consume(min(self.batch_size, 500), timeout=0.25)
                if not msgs:
                    if time.monotonic() - idle_since > 30:
                        log.warning("no record for 30 s below the high watermark of %s; stopping", active)
                        break
                    continue
                idle_since = time.monotonic()
                now_ms = int(time.time() * 1000)
                self._prior = self._prior_republishes(msgs)
                for msg in msgs:
                    key = (msg.topic(), msg.partition())
                    if msg.error() is not None:
                        if msg.error().code() == KafkaError._PARTITION_EOF:
                            # Every record below the EOF offset was handled (in order): move past any
                            # transaction markers too, so the committed offset and the depth are exact.
                            if key in active and positions[key] < msg.offset() <= ends[key]:
                                batch.offsets[key] = positions[key] = msg.offset()
                            active.discard(key)
                            continue
                        raise KafkaException(msg.error())
                    if key not in active:
                        continue
                    if msg.offset() >= ends[key]:
                        active.discard(key)
                        continue
                    if not self._handle(msg, batch, now_ms):
                        active.discard(key)
                        self.consumer.pause([TopicPartition(*key)])
                        self.report.waiting_partitions.append(f"{key[0]}:{key[1]}@{msg.offset()}")
                        continue
                    batch.offsets[key] = positions[key] = msg.offset() + 1
                    batch.records += 1
                    if positions[key] >= ends[key]:
                        active.discard(key)
                    if batch.records >= self.batch_size:
                        self._commit(batch)
                        batch = _Batch()
                        self.producer.begin_transaction()
                    if self.record_delay_s:
                        time.sleep(self.record_delay_s)
            self._commit(batch)
            self.report.depth = self._depth(positions)
        except BaseException:
            try:
                self.conn.rollback()
            finally:
                self._close(abort=True)
            raise
        self._close(abort=False)
        self.report.elapsed_s = round(time.monotonic() - started, 3)
        return self.report

    def _depth(self, positions: dict[tuple[str, int], int]) -> dict[str, int]:
        from confluent_kafka import TopicPartition

        depth: dict[str, int] = Counter()
        for (topic, p), pos in positions.items():
            _low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            depth[topic] += max(0, high - pos)
        return dict(depth)

    def _close(self, abort: bool) -> None:
        consumer, producer = getattr(self, "consumer", None), getattr(self, "producer", None)
        if abort and producer is not None:
            try:
                producer.abort_transaction(30)
            except Exception as exc:  # no open transaction, or the broker is away: the next run fences it
                log.debug("abort_transaction: %s", exc)
        if consumer is not None:
            consumer.close()
        if producer is not None:
            producer.flush(10)


def drain(options: DrainOptions, conn: Any) -> DrainReport:
    """Run the drain loop once; ``conn`` is a DB-API connection (psycopg2 or psycopg 3) whose login
    may insert into the ``errors`` tables (the stream writer). Pushes metrics at the end."""
    from include.dlq.metrics import push_drain_metrics

    drainer = Drainer(options, conn)
    report = drainer.run()
    push_drain_metrics(drainer.pushgateway, report)
    log.info(report.summary())
    return report


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m include.dlq.drain", description="Retry the DLQ once.")
    parser.add_argument("--dlq-topic")
    parser.add_argument("--raw-topic")
    parser.add_argument("--group-id")
    parser.add_argument("--backoff-base-s", type=float)
    parser.add_argument("--backoff-cap-s", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--run-id")
    parser.add_argument("--record-delay-s", type=float, default=0.0)
    parser.add_argument("--dsn", help="libpq DSN (default: the stream writer login)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = settings.resolve()
    policy = BackoffPolicy(
        base_s=args.backoff_base_s
        if args.backoff_base_s is not None
        else float(cfg["DLQ_RETRY_BACKOFF_BASE_S"]),
        cap_s=args.backoff_cap_s if args.backoff_cap_s is not None else float(cfg["DLQ_RETRY_BACKOFF_CAP_S"]),
        max_attempts=int(cfg["DLQ_RETRY_MAX_ATTEMPTS"]),
    )
    options = DrainOptions(
        dlq_topic=args.dlq_topic,
        raw_topic=args.raw_topic,
        group_id=args.group_id,
        policy=policy,
        batch_size=args.batch_size,
        run_id=args.run_id,
        record_delay_s=args.record_delay_s,
    )
    import psycopg2

    conn = psycopg2.connect(args.dsn or config.pg_dsn("PG_STREAM_WRITER"))
    try:
        report = drain(options, conn)
    finally:
        conn.close()
    print(json.dumps(report.to_dict(), default=str) if args.json else report.summary())
    return 0


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main())
