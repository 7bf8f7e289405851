"""A sender: encodes blocks of lines into events and dead letters, and produces them in order.

One per worker process (or one in-process for paced replays). Encoding is
:mod:`include.ingest.columnar` (parse, economics, validation against the *registered* schema, JSON);
valid rows go to the raw topic with the headers naming their registered schema
(:mod:`include.schema_headers`) and ``content-type``, bad rows go to the DLQ as dead-letter records
(``source: producer``) naming the DLQ subject's schema the same way; so do later copies of an event
id within its UTC day (``duplicate``, :mod:`include.ingest.duplicates`). Delivery accounting, waiting and recovery
are the :class:`~include.ingest.kafka_producer.AccountedProducer`'s.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from include import config
from include.ingest.blocks import Block
from include.ingest.columnar import BlockEncoder, ColumnValidator
from include.ingest.duplicates import DAY_MS, DUPLICATE, FirstCopies, duplicate_message
from include.ingest.economics import PriceModel
from include.ingest.end_of_input import MARK_INTERVAL_S, MARKER_HEADERS, marker_value
from include.ingest.event_time import event_time_ms
from include.ingest.events import dead_letter_for, truncate_dead_letter
from include.ingest.kafka_producer import AccountedProducer
from include.ingest.pacing import Pacer
from include.ingest.records import RowError
from include.schema_headers import schema_headers

log = logging.getLogger(__name__)

# Under librdkafka's default message.max.bytes (1,000,000) and the broker's (1,048,588), with room
# for headers and the record's framing.
DLQ_RECORD_LIMIT = 900_000


class Sender(AccountedProducer):
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
        dlq_schema_id: int | None = None,
        payload_dir: str | None = None,
    ) -> None:
        self.dlq_topic = dlq_topic
        self.pacer = pacer if pacer is not None and pacer.pace.paced else None
        self.headers = [*schema_headers(schema_id), ("content-type", b"application/json")]
        self._marker_headers = [*MARKER_HEADERS, *schema_headers(schema_id)]
        self._dlq_headers = [
            *(schema_headers(dlq_schema_id) if dlq_schema_id is not None else ()),
            ("content-type", b"application/json"),
        ]
        self._source_file = source_file.encode()
        offset = pacer.time_offset_ms if pacer is not None else 0
        self.encoder = BlockEncoder(ColumnValidator(schema), model, time_offset_ms=offset)
        super().__init__(kafka_conf, topic, start_offsets)
        self._time_offset_ms = offset
        self._dlq_limit = min(DLQ_RECORD_LIMIT, int(kafka_conf.get("message.max.bytes", 1_000_000)) - 4096)
        # Given by the replay (a sender process does not see the caller's later environment changes).
        self._payload_dir = payload_dir if payload_dir is not None else config.get("DLQ_PAYLOAD_DIR")
        # Partitions this sender owns (all, or p % workers == w): markers keep even the empty ones moving.
        self.owned_partitions: set[int] = set()
        # Later copies of an event id within its UTC day are dead-lettered (include/ingest/duplicates.py).
        self.first_copies = FirstCopies()
        self._marked_partitions: set[int] = set()
        self._last_mark = time.monotonic()

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
        hold = self.outstanding.add_raw
        due_times = self._due_times(block) if self.pacer is not None else None
        self._marked_partitions.update(parts)
        is_repeat, day = self.first_copies.is_repeat, (block.hour_start or 0) // DAY_MS
        for k, item in enumerate(out):
            if due_times is not None:
                wait = due_times[k] - time.monotonic()
                if wait > 0.002:
                    if k:
                        self._maybe_mark(block, k - 1)
                    self.producer.poll(0)
                    time.sleep(wait)
            if type(item) is tuple and is_repeat(item[0], day):
                item = self._duplicate(block, lines, k, item[0])
            if type(item) is tuple:
                try:
                    produce(topic, item[1], item[0], parts[k], headers=headers)
                except BufferError:
                    self._produce(topic, item[1], item[0], parts[k], headers=headers)
                hold(item[0], item[1], parts[k], headers)
            else:
                self.dead_letter(item)  # type: ignore[arg-type]
        if out:
            self._maybe_mark(block, len(out) - 1)
        self.producer.poll(0)
        self._check_stall()
        self.counters.fast_rows = self.encoder.fast_rows
        self.counters.reference_rows = self.encoder.reference_rows

    def _duplicate(self, block: Block, lines: list[bytes], k: int, key: bytes) -> RowError:
        position = block.positions[k]
        event_time = None
        if block.hour_start is not None:
            event_time = event_time_ms(block.hour_start, position, block.hour_rows) + self._time_offset_ms
        event_id = key.decode()
        return RowError(
            DUPLICATE,
            duplicate_message(event_id, block.hour_start or 0),
            lines[k],
            block.first_line_no + position,
            event_id=event_id,
            event_time=event_time,
        )

    def dead_letter(self, error: RowError) -> None:
        record = dead_letter_for(error, source="producer", topic=self.topic)
        value = json.dumps(record).encode()
        if len(value) > self._dlq_limit:
            value = json.dumps(truncate_dead_letter(record, self._payload_dir)).encode()
        headers = [*self._dlq_headers, ("source_file", self._source_file)]
        if error.line_no is not None:
            headers.append(("line_no", str(error.line_no).encode()))
        if error.event_time is not None:  # the row's event-time slot: a repaired retry keeps its time
            headers.append(("event_time", str(error.event_time).encode()))
        key = error.event_id.encode() if error.event_id else None
        try:
            self.produce_dead_letter(self.dlq_topic, value, key, headers, error.error_type)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
                raise
            # A limit lowered in kafka_overrides: the dead letter still goes, as a prefix + file.
            small = truncate_dead_letter(record, self._payload_dir)
            small["raw_payload"], small["raw_payload_b64"] = small["raw_payload"][:256], None
            small["error_message"] = small["error_message"][:256]
            self.produce_dead_letter(
                self.dlq_topic, json.dumps(small).encode(), key, headers, error.error_type
            )

    def _due_times(self, block: Block) -> list[float | None]:
        assert self.pacer is not None
        if block.hour_start is None:
            return [None] * len(block.positions)  # type: ignore[list-item]
        start, n = block.hour_start, block.hour_rows
        return [self.pacer.due(start + i * 3_600_000 // n) or 0.0 for i in block.positions]

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
                self.topic, value, None, partition, headers=self._marker_headers, on_delivery=self._on_marker
            )
