"""The PostgreSQL rows of the DLQ retry and their idempotent INSERTs (migration V004).

One :class:`HistoryRow` per attempt (``errors.retry_history``, unique on the dead letter's
coordinates + attempt) and one :class:`PermanentRow` per dead letter that failed for good
(``errors.dlq_errors``, unique on the coordinates): a batch redone after a kill inserts nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from include.dlq.retry_topics import Origin

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
_SOURCES = ("producer", "flink", "dlq_retry")


@dataclass(frozen=True)
class HistoryRow:
    """One attempt: ``outcome`` is republished | failed | gave_up | non_retryable."""

    origin: Origin
    attempt: int
    event_id: str | None
    outcome: str
    error_type: str | None
    error_message: str | None
    repairs: list[str]  # a list, not a tuple: the driver sends a list as text[]
    republished_to: str | None  # topic:partition

    def values(self, run_id: str) -> tuple[Any, ...]:
        return _pg_safe(
            (*self.origin, self.attempt, self.event_id, self.outcome, self.error_type, self.error_message,
             self.repairs, self.republished_to, run_id)
        )  # fmt: skip


@dataclass(frozen=True)
class PermanentRow:
    """A dead letter stored for good: its own fields, where it came from, and the last attempt's error."""

    origin: Origin
    event_id: str | None
    raw_payload: str
    error_type: str
    error_message: str
    stacktrace: str | None
    retry_count: int
    error_timestamp: datetime | None
    source: str
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    final_error_type: str
    final_error_message: str
    reason: str  # attempts_exhausted | non_retryable

    @classmethod
    def of(
        cls,
        origin: Origin,
        record: dict[str, Any],
        event_id: str | None,
        attempts: int,
        final_error: tuple[str, str],
        reason: str,
    ) -> PermanentRow:
        """From the dead-letter ``record``; ``final_error`` is the last attempt's (type, message)."""
        return cls(
            origin,
            event_id,
            record["raw_payload"],
            str(record.get("error_type") or "parsing"),
            str(record.get("error_message") or ""),
            _str_or_none(record.get("stacktrace")),
            attempts,
            _parse_ts(record.get("error_timestamp")),
            record["source"] if record.get("source") in _SOURCES else "dlq_retry",
            _str_or_none(record.get("topic")),
            _int_or_none(record.get("partition")),
            _int_or_none(record.get("offset")),
            *final_error,
            reason,
        )

    def values(self, run_id: str) -> tuple[Any, ...]:
        return _pg_safe(
            (*self.origin, self.event_id, self.raw_payload, self.error_type, self.error_message, self.stacktrace,
             self.retry_count, self.error_timestamp, self.source, self.source_topic, self.source_partition,
             self.source_offset, self.final_error_type, self.final_error_message, self.reason, run_id)
        )  # fmt: skip


def _pg_safe(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """PostgreSQL text cannot hold NUL: a payload with one must not stop the drain (poison pill)."""
    return tuple(v.replace("\x00", "\ufffd") if isinstance(v, str) else v for v in values)


def _parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
