"""The DLQ rate over a recent window, from Kafka offsets, and the Slack message when it is too high.

``rate = dlq / (raw + dlq)``, where ``raw`` and ``dlq`` are the records that reached the raw topic
and the DLQ during the window: for each partition, the high watermark minus the first offset whose
Kafka timestamp is inside the window (``offsets_for_times``). No record of the raw topic is read, so
the check costs the same at 10 events/s and at 150k events/s. Offsets also count transaction
markers (one per partition per committed transaction of a transactional writer such as Flink's DLQ
sink or the DLQ retry): a handful an hour, negligible against any rate worth an alert.

The DLQ records of the window are read (the DLQ is small by definition; at most ``max_examples_scan``
of them) for the top error types and a few examples. The retry topics (``<dlq>_retry_<n>``) are not
counted: they hold the same dead letters again.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from include.kafka.client_conf import client_conf
from include.slack_text import escape, link

LEVELS = ("ok", "warn", "alert")


@dataclass
class DlqRate:
    raw_topic: str
    dlq_topic: str
    window_s: float
    raw: int
    dlq: int
    warn_ratio: float
    alert_ratio: float
    by_error_type: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    scanned: int = 0

    @property
    def rate(self) -> float | None:
        total = self.raw + self.dlq
        return self.dlq / total if total else None

    @property
    def level(self) -> str:
        rate = self.rate
        if rate is None or rate < self.warn_ratio:
            return "ok"
        return "alert" if rate >= self.alert_ratio else "warn"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate": self.rate, "level": self.level}

    def slack_text(self) -> str | None:
        """The message to post, or None below the warning threshold (quiet)."""
        if self.level == "ok":
            return None
        icon = ":rotating_light:" if self.level == "alert" else ":warning:"
        minutes = self.window_s / 60
        lines = [
            f"{icon} DLQ rate {self.level.upper()}: {self.rate:.2%} of events dead-lettered in the last "
            f"{minutes:g} min ({self.dlq:,} in {escape(self.dlq_topic)} vs {self.raw:,} in "
            f"{escape(self.raw_topic)}; warn >= {self.warn_ratio:.2%}, alert >= {self.alert_ratio:.2%}) · "
            f"{link(details_url(), 'details')}",
        ]
        if self.by_error_type:
            top = ", ".join(
                f"{escape(t)} {n:,}" for t, n in sorted(self.by_error_type.items(), key=lambda x: -x[1])
            )
            lines.append(
                f"top error types: {top}"
                + (f" (of {self.scanned:,} read)" if self.scanned < self.dlq else "")
            )
        if self.examples:
            lines.append("examples:")
            for ex in self.examples:
                lines.append(
                    f"  - {escape(ex['error_type'])} ({escape(ex['source'])}) event "
                    f"{escape(ex['event_id'] or '?')}: {escape(ex['error_message'][:160])}"
                )
        lines.append(
            "runbook: docs/dlq.md#operations (dag_dlq_retry retries them; errors.dlq_errors has the permanent ones)"
        )
        return "\n".join(lines)


def details_url() -> str:
    """dag_dlq_alert's runs in the Airflow UI (each run's measure task holds counts and examples)."""
    from include.dlq.report import airflow_ui_url

    return f"{airflow_ui_url()}/dags/dag_dlq_alert"


def _window_counts(consumer: Any, topic: str, since_ms: int) -> tuple[int, dict[int, tuple[int, int]]]:
    """Records appended to ``topic`` since ``since_ms``: total and per partition ``(first, high)``."""
    from confluent_kafka import TopicPartition

    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    if meta.error is not None:
        raise RuntimeError(f"topic {topic!r}: {meta.error}")
    parts = sorted(meta.partitions)
    found = consumer.offsets_for_times([TopicPartition(topic, p, since_ms) for p in parts], timeout=10)
    total, ranges = 0, {}
    for tp in found:
        _low, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
        first = tp.offset if tp.offset >= 0 else high  # -1: no record at or after since_ms
        ranges[tp.partition] = (first, high)
        total += max(0, high - first)
    return total, ranges


def dlq_rate(
    bootstrap: str,
    raw_topic: str,
    dlq_topic: str,
    window_s: float,
    warn_ratio: float,
    alert_ratio: float,
    *,
    now_ms: int | None = None,
    examples: int = 3,
    max_examples_scan: int = 10_000,
) -> DlqRate:
    """Measure the DLQ rate of the last ``window_s`` seconds (see the module docstring)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    since_ms = now_ms - int(window_s * 1000)
    consumer = Consumer(
        client_conf(
            bootstrap=bootstrap,
            extra={
                "group.id": f"dlq-alert-{uuid.uuid4().hex[:8]}",  # never commits: reads only
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
            },
        )
    )
    try:
        raw, _ = _window_counts(consumer, raw_topic, since_ms)
        dlq, ranges = _window_counts(consumer, dlq_topic, since_ms)
        result = DlqRate(raw_topic, dlq_topic, window_s, raw, dlq, warn_ratio, alert_ratio)
        todo = {p: hi for p, (lo, hi) in ranges.items() if hi > lo}
        if not todo:
            return result
        consumer.assign([TopicPartition(dlq_topic, p, ranges[p][0]) for p in todo])
        types: Counter[str] = Counter()
        seen_types: set[str] = set()
        deadline = time.monotonic() + 60
        while todo and result.scanned < max_examples_scan and time.monotonic() < deadline:
            for msg in consumer.consume(500, timeout=1.0):
                if msg.error() is not None:
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        todo.pop(msg.partition(), None)
                    continue
                if msg.offset() >= todo.get(msg.partition(), -1):
                    todo.pop(msg.partition(), None)
                    continue
                result.scanned += 1
                try:
                    record = json.loads(msg.value() or b"")
                except ValueError:
                    record = {}
                if not isinstance(record, dict):
                    record = {}
                error_type = str(record.get("error_type") or "unknown")
                types[error_type] += 1
                if error_type not in seen_types and len(result.examples) < examples:
                    seen_types.add(error_type)
                    result.examples.append(
                        {
                            "error_type": error_type,
                            "source": str(record.get("source") or "?"),
                            "event_id": record.get("event_id"),
                            "error_message": str(record.get("error_message") or ""),
                            "offset": f"{msg.topic()}:{msg.partition()}:{msg.offset()}",
                        }
                    )
                if msg.offset() + 1 >= todo.get(msg.partition(), 0):
                    todo.pop(msg.partition(), None)
        result.by_error_type = dict(types.most_common())
        return result
    finally:
        consumer.close()
