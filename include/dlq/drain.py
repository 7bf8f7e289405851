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

Per record, :func:`include.dlq.decision.decide` says what to do (a pure function: wait, republish,
re-enqueue or give up, with the rows to write); this module only does the I/O: consume, produce and
commit transactionally, write the PostgreSQL rows. An error type in ``DLQ_RETRY_NON_RETRYABLE`` (or
a record that is not dead-letter JSON) is stored as permanent at once. Otherwise, when due: the
repair rules, then the producer's parsing and validation (:mod:`include.dlq.attempt`). Valid ->
republished to the raw topic exactly as the producer would (key = event id, partition
``crc32(key) % partitions``, the schema headers of include/schema_headers.py) plus ``dlq-origin`` / ``dlq-attempt`` /
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
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include import config
from include.dlq import payloads, settings
from include.dlq.attempt import Repaired, StillBad, attempt
from include.dlq.backoff import BackoffPolicy
from include.dlq.decision import GiveUp, Letter, NotDue, Outgoing, Republish, RetryRules, decide
from include.dlq.payloads import payload_digest
from include.dlq.report import DrainReport
from include.dlq.retry_topics import Origin, topic_levels
from include.dlq.rows import INSERT_HISTORY, INSERT_PERMANENT, HistoryRow, PermanentRow
from include.ingest.duplicates import DUPLICATE
from include.kafka.client_conf import client_conf

log = logging.getLogger(__name__)


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
    payload_dir: Path | None = None  # default: setting DLQ_PAYLOAD_DIR


class _Batch:
    """What one batch will write: PostgreSQL rows; the Kafka side lives in the open transaction."""

    def __init__(self) -> None:
        self.history: list[HistoryRow] = []
        self.permanent: list[PermanentRow] = []
        self.offsets: dict[tuple[str, int], int] = {}
        self.records = 0
        self.settled_payloads: list[str] = []  # SHA-256s of kept payloads no longer needed


def _letter(msg: Any, level: int) -> Letter:
    _ts_type, ts = msg.timestamp()
    return Letter(
        msg.topic(),
        msg.partition(),
        msg.offset(),
        level,
        msg.value(),
        msg.key(),
        tuple(msg.headers() or ()),
        ts if ts and ts > 0 else 0,
    )


class Drainer:
    """One run of the drain loop (use :func:`drain`)."""

    def __init__(self, options: DrainOptions, conn: Any) -> None:
        cfg = settings.resolve()
        self.conn = conn
        self.dlq_topic = options.dlq_topic or cfg["TOPIC_DLQ"]
        self.raw_topic = options.raw_topic or cfg["TOPIC_RAW"]
        self.group_id = options.group_id or cfg["DLQ_RETRY_GROUP"]
        self.policy = options.policy or BackoffPolicy.from_config(cfg)
        configured = (
            options.non_retryable
            if options.non_retryable is not None
            else frozenset(t.strip() for t in cfg["DLQ_RETRY_NON_RETRYABLE"].split(",") if t.strip())
        )
        # Republishing a duplicate would count its event twice, whatever the setting says.
        self.non_retryable = configured | {DUPLICATE}
        self.batch_size = max(1, options.batch_size or int(cfg["DLQ_RETRY_BATCH"]))
        self.max_run_s = (
            options.max_run_s if options.max_run_s is not None else float(cfg["DLQ_RETRY_MAX_RUN_S"])
        )
        self.bootstrap = options.bootstrap_servers or cfg["KAFKA_BOOTSTRAP_SERVERS"]
        self.registry_url = options.registry_url or cfg["SCHEMA_REGISTRY_URL"]
        self.subject = options.subject or cfg["SCHEMA_SUBJECT"]
        self.payload_dir = options.payload_dir or Path(cfg["DLQ_PAYLOAD_DIR"])
        self.pushgateway = (
            cfg["PUSHGATEWAY_URL"] if options.pushgateway_url is None else options.pushgateway_url
        )
        self.price_model_path = options.price_model_path
        self.record_delay_s = options.record_delay_s
        run_id = options.run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
        self.report = DrainReport(run_id, self.dlq_topic, self.raw_topic, self.group_id)
        self._prior: dict[str, set[Origin]] = {}
        self.levels = topic_levels(self.dlq_topic, self.policy.max_attempts)

    # -- setup -------------------------------------------------------------------------------
    def _prepare(self) -> None:
        from confluent_kafka import Consumer, Producer
        from confluent_kafka.admin import AdminClient

        from include.ingest.economics import load_price_model
        from include.ingest.events import compile_validator
        from include.kafka.metadata import topic_partitions
        from include.kafka.topics import TopicSpec, ensure_topics
        from include.schema_registry import fetch_schema

        schema_id, schema = fetch_schema(self.registry_url, self.subject)
        self.validator = compile_validator(schema)
        self.model = load_price_model(self.price_model_path)
        counts = topic_partitions(self.bootstrap, [self.raw_topic, self.dlq_topic])
        self.rules = RetryRules(
            self.policy, self.non_retryable, self.dlq_topic, self.raw_topic, counts[self.raw_topic], schema_id
        )
        rf = int(settings.resolve()["KAFKA_REPLICATION_FACTOR"])
        specs = [
            TopicSpec(t, counts[self.dlq_topic], rf, {"retention.ms": str(30 * 24 * 3600 * 1000)})
            for t, level in self.levels.items()
            if level > 0
        ]
        if specs:
            ensure_topics(AdminClient(client_conf(bootstrap=self.bootstrap)), specs)
        self.producer = Producer(
            client_conf(
                bootstrap=self.bootstrap,
                extra={
                    "transactional.id": f"{self.group_id}.{self.dlq_topic}",
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 20,
                    "compression.type": "lz4",
                    "transaction.timeout.ms": 120_000,
                },
            )
        )
        # Fences a killed earlier run with the same transactional.id and aborts its open transaction.
        self.producer.init_transactions(60)
        self.consumer = Consumer(
            client_conf(
                bootstrap=self.bootstrap,
                extra={
                    "group.id": self.group_id,
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "isolation.level": "read_committed",
                    "enable.partition.eof": True,
                    "client.id": f"dlq-retry-{self.report.run_id}",
                },
            )
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
        """Applies the decision on one record; False when it is not due yet (the partition stops there)."""
        letter = _letter(msg, self.levels[msg.topic()])
        decision = decide(letter, self.rules, now_ms, self._attempt, self._prior)
        if isinstance(decision, NotDue):
            return False
        self.report.count(decision)
        batch.history.append(decision.history)
        if isinstance(decision, GiveUp):
            batch.permanent.append(decision.permanent)
        else:
            self._produce(decision.out)
        if isinstance(decision, GiveUp | Republish) and (digest := payload_digest(letter.value)):
            batch.settled_payloads.append(digest)
        return True

    def _attempt(self, raw_payload: str, event_time_ms: int | None) -> Repaired | StillBad:
        return attempt(raw_payload, self.validator, self.model, event_time_ms=event_time_ms)

    def _prior_republishes(self, msgs: list[Any]) -> dict[str, set[Origin]]:
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
            prior: dict[str, set[Origin]] = {}
            for event_id, topic, partition, offset in cur.fetchall():
                prior.setdefault(event_id, set()).add((topic, int(partition), int(offset)))
            return prior

    def _produce(self, out: Outgoing) -> None:
        while True:
            try:
                self.producer.produce(out.topic, out.value, out.key, out.partition, headers=out.headers)
                return
            except BufferError:
                self.producer.poll(0.1)

    # -- batches -------------------------------------------------------------------------------
    def _commit(self, batch: _Batch) -> None:
        """PostgreSQL first (idempotent rows), then one Kafka transaction: produced records + offsets."""
        from confluent_kafka import TopicPartition

        run_id = self.report.run_id
        with self.conn.cursor() as cur:
            if batch.history:
                cur.executemany(INSERT_HISTORY, [row.values(run_id) for row in batch.history])
            if batch.permanent:
                cur.executemany(INSERT_PERMANENT, [row.values(run_id) for row in batch.permanent])
        self.conn.commit()
        if batch.offsets:
            offsets = [TopicPartition(t, p, o) for (t, p), o in batch.offsets.items()]
            self.producer.send_offsets_to_transaction(offsets, self.consumer.consumer_group_metadata(), 60)
        self.producer.commit_transaction(120)
        self.report.batches += 1
        # Only now: an aborted batch is redone, and its retry needs the full bytes again.
        self.report.payloads_removed += payloads.remove(self.payload_dir, batch.settled_payloads)

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


# The command-line flags that set the DrainOptions field of the same name.
_OPTION_FLAGS = ("dlq_topic", "raw_topic", "group_id", "batch_size", "run_id", "record_delay_s")


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
    from include.kafka.topic_policy import refusal

    if reason := refusal(dlq=args.dlq_topic, raw=args.raw_topic):
        print(f"drain: error: {reason}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    backoff = {"base_s": args.backoff_base_s, "cap_s": args.backoff_cap_s}
    policy = replace(
        BackoffPolicy.from_config(settings.resolve()), **{k: v for k, v in backoff.items() if v is not None}
    )
    options = DrainOptions(policy=policy, **{name: getattr(args, name) for name in _OPTION_FLAGS})
    import psycopg2

    conn = psycopg2.connect(args.dsn or config.pg_dsn("PG_STREAM_WRITER"))
    try:
        report = drain(options, conn)
    finally:
        conn.close()
    print(json.dumps(report.to_dict(), default=str) if args.json else report.summary())
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main())
