"""One replay, start to end: :func:`replay`.

1. The input is checked first (:mod:`include.ingest.replay_input`): a bad file or an empty range
   fails before any service is contacted.
2. The services: the latest schema of the subject from the registry (every row is validated against
   *that* schema; its id and the DLQ subject's go into every record's headers), the topics' partition counts, and the offsets the run starts at (for the lookup
   of unconfirmed rows). A failure here is a :class:`ServiceError`: nothing was sent, a retry is safe.
3. The parent process reads the file (one hour buffered, so event times are known), cuts it into
   blocks (:mod:`include.ingest.blocks`) and hands them to the senders
   (:mod:`include.ingest.sender_pool`), which encode and produce them.
4. The senders flush; their acknowledged counts become the :class:`AccountingReport`. A complete,
   non-live replay then publishes the end-of-input markers that close the last windows.
"""

from __future__ import annotations

import itertools
import logging
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from include import config
from include.ingest.accounting import AccountingReport
from include.ingest.avazu_reader import iter_lines, open_avazu
from include.ingest.blocks import iter_blocks
from include.ingest.columnar import ColumnValidator
from include.ingest.economics import load_price_model
from include.ingest.end_of_input import end_of_input_time, send_markers, wake_up
from include.ingest.event_time import HourBatch, hour_start_ms, iter_hour_batches
from include.ingest.kafka_producer import PRODUCER_DEFAULTS
from include.ingest.metrics import ReplayMetrics
from include.ingest.pacing import Pacer
from include.ingest.progress import progress_bar
from include.ingest.records import AvazuFormatError
from include.ingest.redelivery import high_watermarks
from include.ingest.replay_errors import InputError, ServiceError
from include.ingest.replay_input import check_input, first_batch
from include.ingest.replay_options import ReplayOptions, new_replay_id
from include.ingest.sender_pool import STATS_INTERVAL_S, InProcessSender, SenderPool, default_workers
from include.kafka.client_conf import client_conf
from include.kafka.errors import KafkaServiceError
from include.kafka.metadata import topic_partitions
from include.schema_headers import schema_headers

log = logging.getLogger(__name__)

# The counts of the report that are the senders' counters under the same name.
_SENDER_COUNTS = ("published", "dead_lettered", "failed", "by_error_type", "failures", "bytes_published")


@dataclass(frozen=True)
class ReplayTarget:
    """The options resolved against the settings: where this replay reads from and writes to."""

    replay_id: str
    path: Path
    topic: str
    dlq_topic: str
    bootstrap: str
    registry_url: str
    subject: str
    dlq_subject: str
    pushgateway: str

    @classmethod
    def of(cls, options: ReplayOptions) -> ReplayTarget:
        cfg = config.resolve()
        return cls(
            replay_id=options.replay_id or new_replay_id(),
            path=Path(options.file),
            topic=options.topic or cfg["TOPIC_RAW"],
            dlq_topic=options.dlq_topic or cfg["TOPIC_DLQ"],
            bootstrap=options.bootstrap_servers or cfg["KAFKA_BOOTSTRAP_SERVERS"],
            registry_url=options.registry_url or cfg["SCHEMA_REGISTRY_URL"],
            subject=options.subject or cfg["SCHEMA_SUBJECT"],
            dlq_subject=options.dlq_subject or cfg["DLQ_SCHEMA_SUBJECT"],
            pushgateway=cfg["PUSHGATEWAY_URL"]
            if options.pushgateway_url is None
            else options.pushgateway_url,
        )


@dataclass(frozen=True)
class Services:
    """What the registry and the broker told the replay before it started."""

    schema_id: int
    schema: dict[str, Any]
    dlq_schema_id: int
    partitions: int  # of the raw topic
    start_offsets: dict[str, dict[int, int]]  # raw and DLQ topic: partition -> next offset at the start


def replay(options: ReplayOptions) -> AccountingReport:
    """Replay ``options.file`` and return the accounting; raises :class:`ReplayError` (one-line message)."""
    target = ReplayTarget.of(options)
    check_input(target.path, options.hour_from, options.hour_to)
    spill_dir = Path(config.get("DLQ_PAYLOAD_DIR"))
    with open_avazu(target.path) as stream:
        lines = iter_lines(stream, spill_dir=spill_dir)
        batches = iter_hour_batches(lines, options.hour_from, options.hour_to)
        first = first_batch(batches, target.path, options.hour_from, options.hour_to)
        run = _Run(options, target, connect(target), first)
        stopped = run.send_all(itertools.chain([first], batches))
    report = run.account()
    if stopped is not None:
        stopped.report = report
        raise stopped
    run.close_last_windows(report)
    log.info("replay %s finished: %s", target.replay_id, "OK" if report.ok else "FAILED (see accounting)")
    return report


def connect(target: ReplayTarget) -> Services:
    """Asks the registry and the broker what the replay needs; :class:`ServiceError` when they cannot say."""
    # Imported here: confluent-kafka's registry client takes ~0.7 s to import (include/schema_registry.py).
    from include.schema_registry import RegistryError, fetch_schema

    try:
        schema_id, schema = fetch_schema(target.registry_url, target.subject)
        dlq_schema_id, _ = fetch_schema(target.registry_url, target.dlq_subject)
    except RegistryError as exc:
        raise ServiceError(str(exc)) from None
    validator = ColumnValidator(schema)  # fail here, once, if the registered schema does not compile
    if not validator.fast:
        log.warning(
            "schema id %s uses keywords the column checks do not know: validating row by row", schema_id
        )
    try:
        partitions = topic_partitions(target.bootstrap, [target.topic, target.dlq_topic])[target.topic]
    except KafkaServiceError as exc:
        raise ServiceError(str(exc)) from None
    # Before any sender exists: the rows of this replay are after these offsets (redelivery checks).
    start_offsets = {
        name: high_watermarks(target.bootstrap, name) for name in (target.topic, target.dlq_topic)
    }
    return Services(schema_id, schema, dlq_schema_id, partitions, start_offsets)


class _Run:
    """The senders of one replay, what they were given, and the progress shown while they work."""

    def __init__(
        self, options: ReplayOptions, target: ReplayTarget, services: Services, first: HourBatch
    ) -> None:
        self.options, self.target, self.services = options, target, services
        partitions = services.partitions
        model = load_price_model(options.price_model_path)
        self.workers = 1 if options.pace.paced else (options.workers or default_workers(partitions))
        self.kafka_conf = client_conf(
            bootstrap=target.bootstrap,
            extra={
                "client.id": f"avazu-replay-{target.replay_id}",
                **PRODUCER_DEFAULTS,
                **options.kafka_overrides,
            },
        )
        flush_timeout_s = float(self.kafka_conf["message.timeout.ms"]) / 1000 + 30
        log.info(
            "replay %s: %s hours %s..%s -> %s (%d partitions, schema id %d), DLQ %s, pace %s, %d sender(s)",
            target.replay_id, target.path, options.hour_from or "first", options.hour_to or "last",
            target.topic, partitions, services.schema_id, target.dlq_topic, options.pace, self.workers,
        )  # fmt: skip
        self.metrics = ReplayMetrics(
            target.pushgateway, target.replay_id, target.topic, options.push_interval_s
        )
        self.bar = progress_bar(target.path, options.hour_from, options.hour_to) if options.progress else None
        self.start = time.monotonic()
        self.rows_read = 0
        self.last_hour_start: int | None = None

        first_event_ms = hour_start_ms(first.hour) if first.hour is not None else 0
        pacer = Pacer(options.pace, first_event_ms, time.monotonic(), int(time.time() * 1000))
        sender_args = (
            self.kafka_conf, target.topic, target.dlq_topic, services.schema_id, services.schema, model, pacer,
            str(target.path), services.start_offsets, services.dlq_schema_id, config.get("DLQ_PAYLOAD_DIR"),
        )  # fmt: skip
        if self.workers == 1:
            self.senders: InProcessSender | SenderPool = InProcessSender(
                sender_args, flush_timeout_s, partitions
            )
        else:
            self.senders = SenderPool(self.workers, sender_args, flush_timeout_s, partitions)
        if first.hour is not None:
            wake_up(
                self.kafka_conf,
                target.topic,
                partitions,
                first_event_ms + pacer.time_offset_ms,
                schema_headers(services.schema_id),
            )

    def tick(self) -> None:
        current = self.senders.totals()
        self.metrics.update(current, self.rows_read)
        self.metrics.maybe_push()
        if self.bar is not None:
            done = current.published + current.dead_lettered + current.failed
            self.bar.update(done - self.bar.n)

    def send_all(self, batches: Iterator[HourBatch]) -> InputError | None:
        """Every block to its sender, then the senders' flush; an unsorted file found midway stops the
        run (what was sent is flushed and accounted) and is returned to be raised with the report."""
        try:
            last_tick = 0.0
            for wid, block, _batch in iter_blocks(batches, self.services.partitions, self.workers):
                self.rows_read += len(block.positions)
                if block.hour_start is not None:
                    self.last_hour_start = block.hour_start
                self.senders.send(wid, block, self.tick)
                if time.monotonic() - last_tick >= STATS_INTERVAL_S:
                    self.tick()
                    last_tick = time.monotonic()
        except AvazuFormatError as exc:
            return InputError(f"{self.target.path}: {exc}")
        except (EOFError, zlib.error, OSError) as exc:  # changed or failing since the check: resumable
            return InputError(
                f"{self.target.path}: reading stopped after {self.rows_read} rows "
                f"({type(exc).__name__}: {exc}); replay from the hour after the last complete one"
            )
        finally:
            self.senders.finish(self.tick)
        return None

    def account(self) -> AccountingReport:
        """Where every row went, by the senders' acknowledged counts; pushed and shown one last time."""
        final = self.senders.totals()
        report = AccountingReport(
            replay_id=self.target.replay_id,
            file=str(self.target.path),
            topic=self.target.topic,
            dlq_topic=self.target.dlq_topic,
            schema_id=self.services.schema_id,
            pace=str(self.options.pace),
            workers=self.workers,
            hour_from=self.options.hour_from,
            hour_to=self.options.hour_to,
            rows_read=self.rows_read,
            elapsed_s=time.monotonic() - self.start,
            fast_path_rows=final.fast_rows,
            **{name: getattr(final, name) for name in _SENDER_COUNTS},
        )
        self.metrics.update(final, self.rows_read)
        self.metrics.push(final=True)
        if self.bar is not None:
            self.bar.update(report.published + report.dead_lettered + report.failed - self.bar.n)
            self.bar.close()
        for wid, message in sorted(self.senders.errors.items()):
            log.error("sender %d failed: %s", wid, message)
        return report

    def close_last_windows(self, report: AccountingReport) -> None:
        """End-of-input markers after a complete, non-live replay: the streaming job closes its last windows."""
        options, last_hour_start = self.options, self.last_hour_start
        if not (
            options.end_of_input and options.pace.mode != "live" and last_hour_start is not None and report.ok
        ):
            return
        try:
            send_markers(
                self.kafka_conf,
                self.target.topic,
                self.services.partitions,
                end_of_input_time(last_hour_start),
                schema_headers(self.services.schema_id),
            )
        except Exception as exc:  # every event is delivered; only the closing of the last windows waits
            log.warning("%s: the last windows close with the next replay instead", exc)
