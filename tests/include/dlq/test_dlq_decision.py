"""include/dlq/decision.py: every way a dead letter can go, without Kafka or PostgreSQL.

One table row per branch of :func:`decide`; each row names the record read (level, headers, age),
what the retry attempt returns, and what the decision must be (only the fields the row is about).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from include.dlq.attempt import Repaired, StillBad
from include.dlq.backoff import BackoffPolicy
from include.dlq.decision import Decision, GiveUp, Letter, NotDue, Republish, Requeue, RetryRules, decide
from include.dlq.report import DrainReport
from include.dlq.rows import HistoryRow, PermanentRow

DLQ, RAW = "ad_events_error", "ad_events_raw"
RULES = RetryRules(
    policy=BackoffPolicy(base_s=60, cap_s=3600, max_attempts=3),
    non_retryable=frozenset({"late_event", "flink_logic"}),
    dlq_topic=DLQ,
    raw_topic=RAW,
    raw_partitions=3,
    schema_id=7,
)
NOW = 1_800_000_000_000
MINUTE = 60_000
CSV = "1000009418151094273,0,14102100,1005,0,1fbe01fe"
EVENT = b'{"event_id":"42"}'


def dead_letter(**fields: Any) -> bytes:
    """A dead-letter record as the producer writes it; ``fields`` override or add keys."""
    record = {
        "raw_payload": CSV,
        "error_type": "schema",
        "error_message": "click must be 0 or 1",
        "stacktrace": None,
        "retry_count": 0,
        "error_timestamp": "2026-01-02T03:04:05Z",
        "source": "producer",
        "topic": RAW,
        "partition": None,
        "offset": None,
        "event_id": "42",
    }
    return json.dumps({**record, **fields}).encode()


@dataclass
class Case:
    """A record read ``age_min`` minutes after it reached its topic, and the attempt's outcome."""

    value: bytes | None = field(default_factory=dead_letter)
    level: int = 0
    headers: tuple[tuple[str, bytes | None], ...] = ()
    age_min: float | None = 10  # None: the record has no Kafka timestamp
    outcome: Repaired | StillBad | Exception = field(default_factory=lambda: Repaired("42", b"42", EVENT, []))
    republished: dict[str, set[tuple[str, int, int]]] = field(default_factory=dict)

    def letter(self) -> Letter:
        topic = DLQ if self.level == 0 else f"{DLQ}_retry_{self.level}"
        timestamp = NOW - int(self.age_min * MINUTE) if self.age_min is not None else 0
        return Letter(topic, 1, 5, self.level, self.value, b"42", self.headers, timestamp)


class Attempts:
    """The retry attempt, recording its calls; returns (or raises) the case's outcome."""

    def __init__(self, outcome: Repaired | StillBad | Exception) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, int | None]] = []

    def __call__(self, payload: str, event_time_ms: int | None) -> Repaired | StillBad:
        self.calls.append((payload, event_time_ms))
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def run(case: Case) -> tuple[Decision, Attempts]:
    attempts = Attempts(case.outcome)
    return decide(case.letter(), RULES, NOW, attempts, case.republished), attempts


def summary(decision: Decision) -> dict[str, Any]:
    """The decision as flat facts a table row can name."""
    if isinstance(decision, NotDue):
        return {"kind": "not_due", "until_ms": decision.until_ms}
    h = decision.history
    out: dict[str, Any] = {
        "kind": type(decision).__name__.lower(),
        "history": (h.origin, h.attempt, h.event_id, h.outcome, h.error_type, h.error_message, h.repairs),
        "republished_to": h.republished_to,
    }
    if isinstance(decision, GiveUp):
        p = decision.permanent
        out |= {
            "reason": decision.reason,
            "attempted": decision.attempted,
            "stored": (p.error_type, p.retry_count, p.source, p.final_error_type, p.final_error_message),
        }
    else:
        o = decision.out
        out |= {"to": (o.topic, o.partition, o.key, o.value), "headers": o.headers}
    if isinstance(decision, Republish):
        out["repaired"] = decision.repaired
    if isinstance(decision, Requeue):
        out |= {"level": decision.level, "wait_s": decision.wait_s}
    return out


ORIGIN = (DLQ, 1, 5)
BAD = StillBad("schema", "click must be 0 or 1", "42", ["trim:C1"])
RETRY_STATE = (
    ("dlq-origin", f"{DLQ}:0:3".encode()),
    ("dlq-attempts", b"1"),
    ("dlq-last-error-type", b"schema"),
    ("dlq-last-error", b"older error"),
)
RAW_PARTITION = zlib.crc32(b"42") % 3

CASES = {
    # 1. Stored at once: a non-retryable type, or a level-0 record that is not a dead letter.
    "non-retryable type": (
        Case(value=dead_letter(error_type="late_event", error_message="late", source="flink")),
        {
            "kind": "giveup",
            "reason": "non_retryable",
            "attempted": False,
            "history": (ORIGIN, 1, "42", "non_retryable", "late_event", "late", []),
            "stored": ("late_event", 1, "flink", "late_event", "late"),
        },
    ),
    "not JSON": (
        Case(value=b"garbage\x00 \xff"),
        {
            "kind": "giveup",
            "reason": "non_retryable",
            "history": (
                ORIGIN,
                1,
                None,
                "non_retryable",
                "parsing",
                "the DLQ record is not dead-letter JSON (docs/dlq.md)",
                [],
            ),
            "stored": (
                "parsing",
                1,
                "dlq_retry",
                "parsing",
                "the DLQ record is not dead-letter JSON (docs/dlq.md)",
            ),
        },
    ),  # fmt: skip
    "JSON but not an object": (Case(value=b"[1, 2]"), {"kind": "giveup", "reason": "non_retryable"}),
    "object without a text raw_payload": (
        Case(value=json.dumps({"raw_payload": 12, "error_type": "schema"}).encode()),
        {"kind": "giveup", "reason": "non_retryable"},
    ),
    "empty record": (Case(value=None), {"kind": "giveup", "reason": "non_retryable"}),
    "a non-retryable type on a retry level is retried like any other": (
        Case(value=dead_letter(error_type="late_event"), level=1, headers=RETRY_STATE, age_min=3),
        {"kind": "republish", "history": ((DLQ, 0, 3), 2, "42", "republished", None, None, [])},
    ),
    # 2. Flink keeps rejecting an event the retry republished: its earlier republishes count.
    "flink, republished max times before": (
        Case(
            value=dead_letter(source="flink"),
            republished={"42": {(DLQ, 0, 1), (DLQ, 0, 2), (DLQ, 0, 3)}},
        ),
        {
            "kind": "giveup",
            "reason": "attempts_exhausted",
            "attempted": False,
            "history": (
                ORIGIN,
                4,
                "42",
                "gave_up",
                "schema",
                "dead-lettered again by flink after 3 republish(es) by the DLQ retry",
                [],
            ),
            "stored": (
                "schema",
                1,
                "flink",
                "schema",
                "dead-lettered again by flink after 3 republish(es) by the DLQ retry",
            ),
        },
    ),  # fmt: skip
    "flink, republished twice before: this is the last attempt": (
        Case(
            value=dead_letter(source="flink"),
            republished={"42": {(DLQ, 0, 1), (DLQ, 0, 2)}},
            age_min=5,
            outcome=BAD,
        ),
        {
            "kind": "giveup",
            "reason": "attempts_exhausted",
            "attempted": True,
            "history": (ORIGIN, 3, "42", "gave_up", "schema", "click must be 0 or 1", ["trim:C1"]),
        },
    ),  # fmt: skip
    "flink, republished once before: attempt 2 waits 2 minutes": (
        Case(value=dead_letter(source="flink"), republished={"42": {(DLQ, 0, 1)}}, age_min=1.5),
        {"kind": "not_due", "until_ms": NOW - int(1.5 * MINUTE) + 2 * MINUTE},
    ),
    "flink, its only republish is this very dead letter (a killed run's row)": (
        Case(value=dead_letter(source="flink"), republished={"42": {ORIGIN}}),
        {"kind": "republish", "history": (ORIGIN, 1, "42", "republished", None, None, [])},
    ),
    "producer dead letters get a fresh budget": (
        Case(republished={"42": {(DLQ, 0, 1), (DLQ, 0, 2), (DLQ, 0, 3)}}),
        {"kind": "republish", "history": (ORIGIN, 1, "42", "republished", None, None, [])},
    ),
    # 3. Backoff: attempt n is due delay(n) after the record reached its topic.
    "attempt 1, younger than 1 minute": (
        Case(age_min=0.5),
        {"kind": "not_due", "until_ms": NOW - MINUTE // 2 + MINUTE},
    ),
    "attempt 2, younger than 2 minutes": (
        Case(level=1, headers=RETRY_STATE, age_min=1.5),
        {"kind": "not_due", "until_ms": NOW - int(1.5 * MINUTE) + 2 * MINUTE},
    ),
    "no Kafka timestamp: due at once": (Case(age_min=None), {"kind": "republish"}),
    # 4. The attempt made a valid event: republished exactly as the producer publishes it.
    "valid without a repair": (
        Case(),
        {
            "kind": "republish",
            "to": (RAW, RAW_PARTITION, b"42", EVENT),
            "headers": [
                ("apicurio.value.contentId", b"\x00\x00\x00\x00\x00\x00\x00\x07"),
                ("__value_schema_id", b"\x00\x00\x00\x00\x07"),
                ("content-type", b"application/json"),
                ("dlq-origin", f"{DLQ}:1:5".encode()),
                ("dlq-attempt", b"1"),
            ],
            "history": (ORIGIN, 1, "42", "republished", None, None, []),
            "republished_to": f"{RAW}:{RAW_PARTITION}",
            "repaired": False,
        },
    ),
    "valid after repairs": (
        Case(outcome=Repaired("42", b"42", EVENT, ["trim:C15", "lowercase_hex:site_id"])),
        {
            "kind": "republish",
            "headers": [
                ("apicurio.value.contentId", b"\x00\x00\x00\x00\x00\x00\x00\x07"),
                ("__value_schema_id", b"\x00\x00\x00\x00\x07"),
                ("content-type", b"application/json"),
                ("dlq-origin", f"{DLQ}:1:5".encode()),
                ("dlq-attempt", b"1"),
                ("dlq-repairs", b"trim:C15,lowercase_hex:site_id"),
            ],
            "repaired": True,
        },
    ),
    # 5. Still invalid with attempts left: the original record, one level up, with its retry state.
    "invalid at attempt 1": (
        Case(headers=(("source_file", b"a.csv"), ("line_no", None)), outcome=BAD),
        {
            "kind": "requeue",
            "level": 1,
            "wait_s": 120.0,
            "to": (f"{DLQ}_retry_1", 1, b"42", dead_letter()),
            "headers": [
                ("source_file", b"a.csv"),
                ("line_no", None),
                ("dlq-origin", f"{DLQ}:1:5".encode()),
                ("dlq-attempts", b"1"),
                ("dlq-last-error-type", b"schema"),
                ("dlq-last-error", b"click must be 0 or 1"),
            ],
            "history": (ORIGIN, 1, "42", "failed", "schema", "click must be 0 or 1", ["trim:C1"]),
            "republished_to": None,
        },
    ),
    "invalid at attempt 2: the retry state is replaced, other headers carried": (
        Case(level=1, headers=(("source_file", b"a.csv"), *RETRY_STATE), age_min=3, outcome=BAD),
        {
            "kind": "requeue",
            "level": 2,
            "wait_s": 240.0,
            "to": (f"{DLQ}_retry_2", 1, b"42", dead_letter()),
            "headers": [
                ("source_file", b"a.csv"),
                ("dlq-origin", f"{DLQ}:0:3".encode()),
                ("dlq-attempts", b"2"),
                ("dlq-last-error-type", b"schema"),
                ("dlq-last-error", b"click must be 0 or 1"),
            ],
            "history": ((DLQ, 0, 3), 2, "42", "failed", "schema", "click must be 0 or 1", ["trim:C1"]),
        },
    ),
    "a long error is clipped in its header": (
        Case(outcome=StillBad("schema", "x" * 900)),
        {"kind": "requeue", "history": (ORIGIN, 1, "42", "failed", "schema", "x" * 900, [])},
    ),
    "retry level without its state headers: own coordinates, attempts = level": (
        Case(level=2, headers=(("dlq-origin", b"garbage"),), age_min=5, outcome=BAD),
        {
            "kind": "giveup",
            "history": (
                (f"{DLQ}_retry_2", 1, 5),
                3,
                "42",
                "gave_up",
                "schema",
                "click must be 0 or 1",
                ["trim:C1"],
            ),
        },
    ),
    # 6. Still invalid on the last attempt: stored for good.
    "invalid at attempt 3": (
        Case(
            level=2,
            headers=(("dlq-origin", f"{DLQ}:0:3".encode()), ("dlq-attempts", b"2")),
            age_min=5,
            outcome=BAD,
        ),
        {
            "kind": "giveup",
            "reason": "attempts_exhausted",
            "attempted": True,
            "history": ((DLQ, 0, 3), 3, "42", "gave_up", "schema", "click must be 0 or 1", ["trim:C1"]),
            "stored": ("schema", 3, "producer", "schema", "click must be 0 or 1"),
        },
    ),  # fmt: skip
    # 7. Event ids: the attempt's when it read one, else the record's.
    "the attempt found no event id: the record's": (
        Case(outcome=StillBad("parsing", "23 columns")),
        {"kind": "requeue", "history": (ORIGIN, 1, "42", "failed", "parsing", "23 columns", [])},
    ),
    "the attempt read the id the record lacks": (
        Case(value=dead_letter(event_id=None), outcome=StillBad("schema", "bad", "77")),
        {"kind": "requeue", "history": (ORIGIN, 1, "77", "failed", "schema", "bad", [])},
    ),
    # 8. An attempt that raises is a failed attempt, never a stopped drain.
    "the attempt raised": (
        Case(outcome=RuntimeError("boom")),
        {
            "kind": "requeue",
            "history": (ORIGIN, 1, "42", "failed", "parsing", "retry raised RuntimeError: boom", []),
        },
    ),
}


@pytest.mark.parametrize(("case", "expected"), list(CASES.values()), ids=list(CASES))
def test_decision(case: Case, expected: dict[str, Any]) -> None:
    got = summary(run(case)[0])
    assert {key: got.get(key) for key in expected} == expected


@pytest.mark.parametrize(
    "name",
    [
        "non-retryable type",
        "not JSON",
        "flink, republished max times before",
        "attempt 1, younger than 1 minute",
        "attempt 2, younger than 2 minutes",
    ],
)
def test_no_attempt_is_made_when_none_is_needed(name: str) -> None:
    _decision, attempts = run(CASES[name][0])
    assert attempts.calls == []


@pytest.mark.parametrize(
    ("headers", "event_time_ms"),
    [((("event_time", b"1413849600123"),), 1413849600123), ((("event_time", b"soon"),), None), ((), None)],
    ids=["event_time header", "malformed event_time", "no event_time"],
)
def test_the_attempt_gets_the_payload_and_the_rows_replay_event_time(headers, event_time_ms) -> None:
    _decision, attempts = run(Case(headers=headers))
    assert attempts.calls == [(CSV, event_time_ms)]


def test_a_long_error_is_clipped_in_its_header() -> None:
    decision = run(CASES["a long error is clipped in its header"][0])[0]
    assert isinstance(decision, Requeue)
    assert dict(decision.out.headers)["dlq-last-error"] == b"x" * 500


def test_the_same_inputs_give_the_same_decision() -> None:
    """What lets a batch redone after a kill reach the same outcomes and rows."""
    for case, _expected in CASES.values():
        assert run(case)[0] == run(case)[0]


def test_a_permanent_row_keeps_the_dead_letters_fields() -> None:
    value = dead_letter(stacktrace="Traceback ...", partition=2, offset=123, event_id="42")
    state = (("dlq-origin", f"{DLQ}:1:5".encode()), ("dlq-attempts", b"2"))
    decision = run(Case(value=value, level=2, headers=state, age_min=5, outcome=BAD))[0]
    assert isinstance(decision, GiveUp)
    assert decision.permanent == PermanentRow(
        origin=ORIGIN,
        event_id="42",
        raw_payload=CSV,
        error_type="schema",
        error_message="click must be 0 or 1",
        stacktrace="Traceback ...",
        retry_count=3,
        error_timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        source="producer",
        source_topic=RAW,
        source_partition=2,
        source_offset=123,
        final_error_type="schema",
        final_error_message="click must be 0 or 1",
        reason="attempts_exhausted",
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"stacktrace": 12}, {"stacktrace": None}),
        ({"error_timestamp": "yesterday"}, {"error_timestamp": None}),
        ({"error_timestamp": 1700000000}, {"error_timestamp": None}),
        ({"source": "someone"}, {"source": "dlq_retry"}),
        ({"source": "flink"}, {"source": "flink"}),
        ({"partition": True, "offset": "7"}, {"source_partition": None, "source_offset": None}),
        ({"topic": 5}, {"source_topic": None}),
        ({"error_type": None, "error_message": None}, {"error_type": "parsing", "error_message": ""}),
    ],
)
def test_a_permanent_row_drops_what_is_malformed(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    record = json.loads(dead_letter(**fields))
    row = PermanentRow.of(ORIGIN, record, "42", 3, ("schema", "bad"), "attempts_exhausted")
    assert {key: getattr(row, key) for key in expected} == expected


def test_rows_replace_nul_which_postgresql_text_cannot_hold() -> None:
    history = HistoryRow(ORIGIN, 1, "4\x002", "failed", "parsing", "a\x00b", ["trim:C1"], None)
    assert history.values("run-1") == (
        DLQ,
        1,
        5,
        1,
        "4\ufffd2",
        "failed",
        "parsing",
        "a\ufffdb",
        ["trim:C1"],
        None,
        "run-1",
    )
    permanent = PermanentRow.of(
        ORIGIN, {"raw_payload": "x\x00"}, None, 1, ("parsing", "bad"), "non_retryable"
    )
    assert permanent.values("run-1")[4] == "x\ufffd"  # raw_payload, after the coordinates and event id


def test_the_report_counts_each_kind_of_decision() -> None:
    report = DrainReport("run-1", DLQ, RAW, "dlq_retry")
    for name in (
        "valid after repairs",
        "valid without a repair",
        "invalid at attempt 1",
        "invalid at attempt 3",
        "non-retryable type",
        "flink, republished max times before",
    ):
        report.count(run(CASES[name][0])[0])  # type: ignore[arg-type]
    assert (report.read, report.retried, report.republished, report.repaired, report.requeued) == (
        6,
        4,
        2,
        1,
        1,
    )
    assert report.permanent == 3 and report.permanent_by_type == {"schema": 2, "late_event": 1}
    assert [(ex.origin, ex.reason, ex.attempts) for ex in report.examples] == [
        (f"{DLQ}:0:3", "attempts_exhausted", 3),
        (f"{DLQ}:1:5", "non_retryable", 1),
    ], "one example per error type (the second schema failure is counted, not shown)"
