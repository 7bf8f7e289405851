"""Watermark markers: watermark-only records the replayer adds to the raw topic.

A marker (header ``adevents-heartbeat``, value ``{"marker":"watermark","event_time":T}``, the
marker variant of the raw topic's registered schema) moves its partition's
watermark in the streaming job to ``T - delay`` and is otherwise ignored. The replayer sends three
kinds, always with a ``T`` no later event of that partition is older than (rows go out in
event-time order):

- **wake-up**, to every partition before the first row, then a short pause: after a quiet spell
  the job has marked every partition idle; without this, the first partition it reads would drive
  the watermark alone and the rows of the others would arrive behind it, as late events;
- **progress**, every second to each partition a sender writes to (``Sender._maybe_mark``): no
  partition goes idle mid-replay;
- **end of input**, to every partition after the last row. Event time only moves with events, so
  the last windows would otherwise wait for the next replay. ``T`` = end of the last replayed hour + the job's watermark delay - 1 ms: the watermark
lands 1 ms before the hour's end, which closes every window of the replay (a window ending at E
fires at watermark E - 1 ms) and still leaves the next hour's first event (at exactly E) on time,
so replaying hour after hour never makes events late. Live replays send none: their event times
follow the clock, and a marker ahead of the clock would make the next live events late.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

HEARTBEAT_HEADER = "adevents-heartbeat"
MARKER_HEADERS = [(HEARTBEAT_HEADER, b"1")]
MARK_INTERVAL_S = 1.0
# Long enough for the job to read the wake-up markers of every partition before the first row.
WAKE_UP_PAUSE_S = 1.0
# The streaming job's default bounded out-of-orderness (its --out-of-orderness reads this).
JOB_WATERMARK_DELAY_MS = 5_000

log = logging.getLogger(__name__)


def end_of_input_time(last_hour_start_ms: int) -> int:
    """Event time of the markers after a replay whose last hour starts at ``last_hour_start_ms``."""
    return last_hour_start_ms + 3_600_000 + JOB_WATERMARK_DELAY_MS - 1


MARKER_PROPERTY = "marker"
"""The property that makes a record a marker in the raw topic's schema (events never have it)."""


def marker_value(event_time_ms: int) -> bytes:
    """The marker's JSON: ``marker`` makes it one by the schema alone; the job reads ``event_time``."""
    return b'{"marker":"watermark","event_time":%d}' % event_time_ms


def send_markers(
    kafka_conf: dict[str, Any],
    topic: str,
    partitions: int,
    event_time_ms: int,
    schema_headers: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Publishes one marker to each of ``partitions`` partitions of ``topic`` and waits for the acks.

    ``schema_headers`` (:func:`include.schema_headers.schema_headers`) name the topic's registered
    schema, which has the marker variant; the heartbeat header is what the streaming job looks at.
    """
    from confluent_kafka import Producer

    failures: list[str] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    conf = {k: v for k, v in kafka_conf.items() if k != "on_delivery"}
    producer = Producer({**conf, "linger.ms": 0})
    value, headers = marker_value(event_time_ms), [*MARKER_HEADERS, *schema_headers]
    for partition in range(partitions):
        producer.produce(topic, value=value, partition=partition, headers=headers, on_delivery=on_delivery)
    remaining = producer.flush(60)
    if remaining or failures:
        raise RuntimeError(
            f"watermark markers to {topic} not delivered ({remaining} pending, errors: {failures[:3]})"
        )
    log.info("watermark markers at event time %d on %d partition(s) of %s", event_time_ms, partitions, topic)


def wake_up(
    kafka_conf: dict[str, Any],
    topic: str,
    partitions: int,
    first_event_ms: int,
    schema_headers: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Wake-up markers at the first row's time, then a pause; a failure only costs a warning."""
    try:
        send_markers(kafka_conf, topic, partitions, first_event_ms, schema_headers)
    except Exception as exc:  # the rows themselves go out regardless
        log.warning("%s: rows of partitions read last may arrive behind the watermark", exc)
        return
    time.sleep(WAKE_UP_PAUSE_S)
