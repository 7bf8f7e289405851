"""What becomes of one dead letter: wait, republish, re-enqueue or give up. A pure function.

:func:`decide` reads and writes nothing. It gets the record as the drain read it (:class:`Letter`),
the run's rules (:class:`RetryRules`), the clock, the event's earlier republishes and the retry
attempt (repair rules + the producer's validation, :func:`include.dlq.attempt.attempt`, passed as a
function so it only runs when the record is due and retryable). It returns what to do, with the
record to produce and the PostgreSQL rows to write; the drain (:mod:`include.dlq.drain`) does that
in its batch transaction. Deterministic for the same inputs, which is what lets a batch redone
after a kill reach the same outcomes (docs/dlq.md, "Idempotency").

The rules, in order:

1. A level-0 record whose error type is non-retryable (or that is not dead-letter JSON) is stored
   at once: :class:`GiveUp` ``non_retryable``, attempt 1.
2. A Flink dead letter of an event the retry already republished: the attempts spent on the earlier
   dead letters count, so an event Flink keeps rejecting is given up after ``max_attempts``
   republishes instead of looping forever.
3. Attempt n is due ``delay(n)`` after the record reached its topic; before that :class:`NotDue`
   (the partition stops there).
4. The attempt: valid -> :class:`Republish` to the raw topic, exactly as the producer publishes;
   invalid -> :class:`Requeue` one level up, or after the last attempt :class:`GiveUp`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from include.dlq.attempt import Repaired, StillBad
from include.dlq.backoff import BackoffPolicy
from include.dlq.retry_topics import (
    HDR_ATTEMPT,
    HDR_ATTEMPTS,
    HDR_LAST_ERROR,
    HDR_LAST_ERROR_TYPE,
    HDR_ORIGIN,
    HDR_REPAIRS,
    OWN_HEADERS,
    Origin,
    clipped,
    format_origin,
    header_text,
    parse_origin,
    retry_topic,
)
from include.dlq.rows import HistoryRow, PermanentRow
from include.ingest.events import original_payload
from include.kafka.partitioner import partition_of
from include.schema_headers import schema_headers

log = logging.getLogger(__name__)

Header = tuple[str, bytes | None]
# The retry attempt: (raw payload, the CSV row's replay event time when known) -> outcome.
Attempt = Callable[[str, int | None], Repaired | StillBad]


@dataclass(frozen=True)
class Letter:
    """A record of the DLQ (level 0) or of a retry topic (level k), as read from Kafka."""

    topic: str
    partition: int
    offset: int
    level: int
    value: bytes | None
    key: bytes | None = None
    headers: tuple[Header, ...] = ()
    timestamp_ms: int = 0  # when it reached its topic; 0 when unknown


@dataclass(frozen=True)
class RetryRules:
    """What a run decides with: the settings and what the registry and the broker told it."""

    policy: BackoffPolicy
    non_retryable: frozenset[str]
    dlq_topic: str
    raw_topic: str
    raw_partitions: int
    schema_id: int


@dataclass(frozen=True)
class Outgoing:
    """A record to produce in the batch's Kafka transaction."""

    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    headers: list[Header]


@dataclass(frozen=True)
class NotDue:
    """The next attempt is due at ``until_ms`` (epoch ms): leave the record, stop its partition."""

    until_ms: int


@dataclass(frozen=True)
class Republish:
    """The attempt made a valid event: publish it to the raw topic."""

    out: Outgoing
    history: HistoryRow
    repaired: bool  # at least one repair rule was needed


@dataclass(frozen=True)
class Requeue:
    """The attempt failed with attempts left: the dead letter waits ``wait_s`` on level ``level``."""

    level: int
    wait_s: float
    out: Outgoing
    history: HistoryRow


@dataclass(frozen=True)
class GiveUp:
    """Stored in errors.dlq_errors for good; ``attempted``: an attempt was made by this decision."""

    reason: str  # attempts_exhausted | non_retryable
    attempted: bool
    history: HistoryRow
    permanent: PermanentRow


Decision = NotDue | Republish | Requeue | GiveUp


def decide(
    letter: Letter,
    rules: RetryRules,
    now_ms: int,
    attempt: Attempt,
    republished: Mapping[str, Collection[Origin]] | None = None,
) -> Decision:
    """The fate of ``letter``. ``republished``: event id -> the dead letters (origins) the event was
    already republished from (needed for the Flink dead letters only)."""
    headers = {k: v for k, v in letter.headers if v is not None}
    origin, attempts_done = _origin_and_attempts(letter, headers)
    record, readable = _dead_letter_record(letter.value)
    error_type = str(record.get("error_type") or "parsing")
    event_id = record.get("event_id") if isinstance(record.get("event_id"), str) else None

    if letter.level == 0 and (not readable or error_type in rules.non_retryable):
        message = str(record.get("error_message") or "")
        history = HistoryRow(origin, 1, event_id, "non_retryable", error_type, message, [], None)
        permanent = PermanentRow.of(origin, record, event_id, 1, (error_type, message), "non_retryable")
        return GiveUp("non_retryable", False, history, permanent)

    # Republishes of this event from *other* dead letters: this record's own row may exist already
    # when a killed run committed its PostgreSQL rows but not its Kafka transaction.
    earlier = set((republished or {}).get(event_id or "", ())) - {origin}
    if letter.level == 0 and record.get("source") == "flink" and earlier:
        attempts_done = len(earlier)
        if attempts_done >= rules.policy.max_attempts:
            message = f"dead-lettered again by flink after {attempts_done} republish(es) by the DLQ retry"
            history = HistoryRow(
                origin, attempts_done + 1, event_id, "gave_up", error_type, message, [], None
            )
            permanent = PermanentRow.of(
                origin, record, event_id, 1, (error_type, message), "attempts_exhausted"
            )
            return GiveUp("attempts_exhausted", False, history, permanent)

    number = attempts_done + 1
    if not rules.policy.is_due(number, letter.timestamp_ms, now_ms):
        return NotDue(rules.policy.due_ms(number, letter.timestamp_ms))
    event_time = header_text(headers.get("event_time"))
    event_time_ms = int(event_time) if event_time.isdigit() else None
    result = _attempt_safely(attempt, original_payload(record), event_time_ms, origin)
    if isinstance(result, Repaired):
        return _republish(rules, origin, number, result)
    event_id = result.event_id or event_id  # the attempt may have read the id the record lacks
    if rules.policy.is_last(number):
        history = _failed_history(origin, number, event_id, result, "gave_up")
        final = (result.error_type, result.message)
        permanent = PermanentRow.of(origin, record, event_id, number, final, "attempts_exhausted")
        return GiveUp("attempts_exhausted", True, history, permanent)
    return _requeue(letter, rules, origin, number, event_id, result)


def _origin_and_attempts(letter: Letter, headers: dict[str, bytes]) -> tuple[Origin, int]:
    """The dead letter's identity in the DLQ and the attempts it has been through."""
    own = (letter.topic, letter.partition, letter.offset)
    if letter.level == 0:
        return own, 0
    attempts = header_text(headers.get(HDR_ATTEMPTS))
    return parse_origin(headers.get(HDR_ORIGIN)) or own, int(attempts) if attempts.isdigit() else letter.level


def _dead_letter_record(value: bytes | None) -> tuple[dict[str, Any], bool]:
    """The dead-letter JSON object, and whether it was one; anything else is kept as a parsing error."""
    try:
        record = json.loads(value or b"")
        if isinstance(record, dict) and isinstance(record.get("raw_payload"), str):
            return record, True
    except ValueError:
        pass
    return {
        "raw_payload": header_text(value),
        "error_type": "parsing",
        "error_message": "the DLQ record is not dead-letter JSON (docs/dlq.md)",
        "source": "dlq_retry",
    }, False


def _attempt_safely(
    attempt: Attempt, payload: str, event_time_ms: int | None, origin: Origin
) -> Repaired | StillBad:
    """Never a poison pill: an unexpected error is this attempt's failure."""
    try:
        return attempt(payload, event_time_ms)
    except Exception as exc:
        log.exception("attempt on %s raised", format_origin(origin))
        return StillBad("parsing", f"retry raised {type(exc).__name__}: {exc}")


def _republish(rules: RetryRules, origin: Origin, number: int, result: Repaired) -> Republish:
    """Key, partition, value and headers exactly as the producer publishes, plus the retry's own."""
    target = partition_of(result.key, rules.raw_partitions)
    headers: list[Header] = [
        *schema_headers(rules.schema_id),
        ("content-type", b"application/json"),
        (HDR_ORIGIN, format_origin(origin).encode()),
        (HDR_ATTEMPT, str(number).encode()),
    ]
    if result.repairs:
        headers.append((HDR_REPAIRS, clipped(",".join(result.repairs))))
    history = HistoryRow(
        origin,
        number,
        result.event_id,
        "republished",
        None,
        None,
        result.repairs,
        f"{rules.raw_topic}:{target}",
    )
    out = Outgoing(rules.raw_topic, target, result.key, result.value, headers)
    return Republish(out, history, bool(result.repairs))


def _requeue(
    letter: Letter, rules: RetryRules, origin: Origin, number: int, event_id: str | None, result: StillBad
) -> Requeue:
    """The original record, unchanged, one level up; its retry state replaces any earlier one."""
    headers = [(k, v) for k, v in letter.headers if k not in OWN_HEADERS]
    headers += [
        (HDR_ORIGIN, format_origin(origin).encode()),
        (HDR_ATTEMPTS, str(number).encode()),
        (HDR_LAST_ERROR_TYPE, result.error_type.encode()),
        (HDR_LAST_ERROR, clipped(result.message)),
    ]
    out = Outgoing(retry_topic(rules.dlq_topic, number), letter.partition, letter.key, letter.value, headers)
    history = _failed_history(origin, number, event_id, result, "failed")
    return Requeue(number, rules.policy.delay_s(number + 1), out, history)


def _failed_history(
    origin: Origin, number: int, event_id: str | None, result: StillBad, outcome: str
) -> HistoryRow:
    return HistoryRow(
        origin, number, event_id, outcome, result.error_type, result.message, result.repairs, None
    )
