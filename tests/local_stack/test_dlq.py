"""The DLQ retry and alert against the real stack: Kafka, the schema registry, PostgreSQL, Airflow, Slack sink.

Every test works in its own fresh topics (a raw topic, a DLQ and the retry topics the drain creates),
with its own consumer group, all deleted at the end; PostgreSQL rows are found by their DLQ topic.
Dead letters of every error type are injected: real producer dead letters (a corrupted sample
replayed by the producer) and Flink-shaped ones built with ``include.ingest.events.dead_letter``.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
import psycopg2
import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from dlq_topics_support import topic_pairs

from include import config
from include.dlq.backoff import BackoffPolicy
from include.dlq.drain import DrainOptions, drain
from include.dlq.report import DrainReport
from include.ingest.events import dead_letter
from include.ingest.producer import ReplayOptions, replay
from include.kafka.client_conf import client_conf
from include.schema_headers import schema_id_of
from include.schema_registry import SchemaRegistryClient

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "avazu_sample_100.csv"
HOUR_START_MS = 1413849600000  # 14102100
COL = {"id": 0, "click": 1, "C1": 3, "site_id": 5, "site_category": 7, "device_id": 11, "C15": 17}


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def topics(kafka_admin: Any) -> Iterator[Any]:
    """A factory of fresh (raw, dlq) topic pairs; every topic, retry topics included, deleted at the end."""
    with topic_pairs(kafka_admin, "dlq_test") as make:
        yield make


@pytest.fixture(scope="module")
def registered(bootstrapped: Any, cfg: dict[str, str]) -> Any:
    found = SchemaRegistryClient(cfg["SCHEMA_REGISTRY_URL"]).latest(cfg["SCHEMA_SUBJECT"])
    assert found is not None
    return found


@pytest.fixture
def writer(bootstrapped: Any) -> Iterator[Any]:
    """The DAG's login (stream writer), through psycopg2 like Airflow's PostgresHook."""
    conn = psycopg2.connect(config.pg_dsn("PG_STREAM_WRITER"))
    yield conn
    conn.close()


def sample_rows() -> tuple[bytes, list[bytes]]:
    lines = SAMPLE.read_bytes().splitlines()
    return lines[0], lines[1:]


def set_field(row: bytes, column: str, value: bytes) -> bytes:
    fields = row.split(b",")
    fields[COL[column]] = value
    return b",".join(fields)


def consume(bootstrap: str, topic: str, isolation: str = "read_committed") -> list[Any]:
    """Every record of ``topic`` (all partitions) visible to a reader with ``isolation``."""
    consumer = Consumer(
        client_conf(
            bootstrap=bootstrap,
            extra={
                "group.id": f"t-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": isolation,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
            },
        )
    )
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        todo, out = set(parts), []
        deadline = time.monotonic() + 60
        while todo and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=1.0):
                if msg.error() is not None:
                    todo.discard(msg.partition())
                else:
                    out.append(msg)
        assert not todo, f"did not reach the end of {topic}"
        return out
    finally:
        consumer.close()


def produce_dead_letters(
    bootstrap: str, dlq: str, records: list[tuple[dict[str, Any], dict[str, bytes]]]
) -> None:
    producer = Producer(client_conf(bootstrap=bootstrap, extra={"enable.idempotence": True}))
    for record, headers in records:
        key = record["event_id"].encode() if record.get("event_id") else None
        producer.produce(dlq, json.dumps(record).encode(), key, headers=list(headers.items()))
    assert producer.flush(30) == 0


def flink_dead_letter(event: dict[str, Any] | str, error_type: str, message: str) -> dict[str, Any]:
    """A DLQ record shaped like the Flink job's (source flink, JSON payload, raw topic coordinates)."""
    payload = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
    event_id = event.get("event_id") if isinstance(event, dict) else None
    return dead_letter(
        payload,
        error_type,  # type: ignore[arg-type]
        message,
        source="flink",
        topic="ad_events_raw",
        partition=0,
        offset=123,
        event_id=event_id if isinstance(event_id, str) else None,
    )


def clean_event(validator_row: bytes, event_id: str) -> dict[str, Any]:
    """A valid event built the producer's way from a sample row, with a fresh event id."""
    from include.dlq.attempt import attempt
    from include.ingest.economics import load_price_model
    from include.ingest.events import compile_validator, load_schema

    row = set_field(validator_row, "id", event_id.encode()).decode()
    result = attempt(row, compile_validator(load_schema()), load_price_model(), event_time_ms=HOUR_START_MS)
    return json.loads(result.value)  # type: ignore[union-attr]


def drain_until_empty(options: DrainOptions, conn: Any, max_runs: int = 8) -> list[DrainReport]:
    """Run the drain like the schedule would, waiting out the backoff, until nothing is left."""
    assert options.policy is not None
    reports = []
    for run in range(max_runs):
        reports.append(drain(options, conn))
        if reports[-1].total_depth == 0:
            return reports
        time.sleep(options.policy.delay_s(min(run + 1, options.policy.max_attempts)) + 0.2)
    raise AssertionError(f"DLQ not empty after {max_runs} runs: {[r.to_dict() for r in reports]}")


def history(pg_owner: Any, dlq: str) -> dict[int, list[tuple[int, str, str | None]]]:
    rows = pg_owner.execute(
        "SELECT dlq_offset, attempt, outcome, error_type FROM errors.retry_history WHERE dlq_topic = %s "
        "ORDER BY dlq_offset, attempt",
        (dlq,),
    ).fetchall()
    out: dict[int, list[tuple[int, str, str | None]]] = {}
    for offset, number, outcome, error_type in rows:
        out.setdefault(offset, []).append((number, outcome, error_type))
    return out


def permanent(pg_owner: Any, dlq: str) -> dict[int, dict[str, Any]]:
    cur = pg_owner.execute(
        "SELECT dlq_offset, event_id, error_type, final_error_type, retry_count, reason, source, raw_payload, "
        "source_topic, error_timestamp FROM errors.dlq_errors WHERE dlq_topic = %s",
        (dlq,),
    )
    names = [d.name for d in cur.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def sink_payloads(cfg: dict[str, str], needle: str) -> list[dict[str, Any]]:
    """The webhook payloads the Slack sink recorded whose text contains ``needle``."""
    url = f"http://{cfg['BIND_HOST']}:{cfg['SLACK_SINK_PORT']}/messages"
    payloads = [m.get("payload", {}) for m in requests.get(url, timeout=10).json()]
    return [p for p in payloads if needle in str(p.get("text", ""))]


def sink_messages(cfg: dict[str, str], needle: str) -> list[str]:
    return [str(p["text"]) for p in sink_payloads(cfg, needle)]


@pytest.fixture(scope="module")
def retried_failure(bootstrapped: Any, airflow: Any) -> dict[str, str]:
    """A run of dag_avazu_replay whose `replay` task fails with a retryable error (its raw topic does
    not exist), triggered as early as possible: with DEFAULT_ARGS retries=2 and their backoff it
    takes ~90 s, which the other tests of this module overlap. Checked by the last test."""
    topic = f"scratch_raw_missing_{uuid.uuid4().hex[:8]}"
    airflow.wait_for_dag("dag_avazu_replay")
    airflow.unpause("dag_avazu_replay")
    return {"run_id": airflow.trigger("dag_avazu_replay", {"topic": topic}), "topic": topic}


# -- the drain, every error type ----------------------------------------------------------------


def test_every_error_type_is_republished_or_stored_with_its_attempts(
    cfg, topics, registered, writer, pg_owner, retried_failure
):
    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    raw, dlq = topics()
    header, rows = sample_rows()
    ids = [r.split(b",", 1)[0].decode() for r in rows]

    # 1. Producer dead letters: the producer replays a corrupted sample into the isolated topics.
    rows[3] = set_field(rows[3], "C15", b" 320 ")  # parsing, repairable (trim)
    rows[4] = set_field(rows[4], "click", b"0.0")  # parsing, repairable (int_format)
    rows[5] = set_field(rows[5], "site_id", b"1FBE01FE")  # schema, repairable (lowercase_hex)
    rows[6] = rows[6].rsplit(b",", 1)[0]  # parsing: 23 columns, not repairable
    rows[7] = set_field(rows[7], "device_id", b"a9\xff\xfe214a")  # parsing: invalid UTF-8
    rows[8] = set_field(rows[8], "click", b"2")  # schema: not repairable
    rows[9] = set_field(rows[9], "site_id", b"XYZ12345")  # schema: not repairable
    bad_file = Path(f"/tmp/dlq_test_{uuid.uuid4().hex[:8]}.csv")
    bad_file.write_bytes(b"\n".join([header, *rows]) + b"\n")
    try:
        report = replay(ReplayOptions(file=bad_file, topic=raw, dlq_topic=dlq, pushgateway_url=""))
    finally:
        bad_file.unlink()
    assert (report.published, report.dead_lettered) == (93, 7)

    # 2. Flink-shaped dead letters (JSON payloads) of every other type, with fresh event ids.
    fid = [f"9{uuid.uuid4().int % 10**18:018d}" for _ in range(6)]
    good = [clean_event(rows[20 + i], fid[i]) for i in range(6)]
    messy = {**good[0], "C1": " 1005 ", "site_category": good[0]["site_category"].upper(), "click": "0,0"}
    flink_records = [
        flink_dead_letter(messy, "schema", "C1 is not an integer"),  # repairable
        flink_dead_letter({**good[1], "click": 5}, "schema", "click must be 0 or 1"),  # not repairable
        flink_dead_letter(good[2], "sink", "PostgreSQL unavailable"),  # transient: valid as it is
        flink_dead_letter(good[3], "late_event", "event_time before the watermark"),  # non-retryable
        flink_dead_letter(good[4], "flink_logic", "division by zero in a UDF"),  # non-retryable
        flink_dead_letter('{"event_id": "oops', "parsing", "record value is not a JSON object"),  # broken
    ]
    produce_dead_letters(bootstrap, dlq, [(r, {}) for r in flink_records])
    # 3. Not a DLQ record at all (garbage with a NUL byte, which PostgreSQL text cannot hold).
    garbage = Producer(client_conf(bootstrap=bootstrap))
    garbage.produce(dlq, b"garbage\x00 \xff")
    assert garbage.flush(30) == 0

    group = f"dlq_test_{uuid.uuid4().hex[:8]}"
    policy = BackoffPolicy(base_s=0.5, cap_s=4, max_attempts=3)
    options = DrainOptions(dlq_topic=dlq, raw_topic=raw, group_id=group, policy=policy, pushgateway_url="")
    reports = drain_until_empty(options, writer)
    assert len(reports) == 3, "attempt 1, 2, 3: one run each"

    repaired_ids = {ids[3], ids[4], ids[5], fid[0], fid[2]}
    exhausted = {ids[6], ids[7], ids[8], ids[9], fid[1], None}
    non_retryable = {fid[3], fid[4]}

    # The repaired events are in the raw topic once each, valid, stamped like the producer's.
    republished = [m for m in consume(bootstrap, raw) if dict(m.headers() or []).get("dlq-origin")]
    by_id = Counter(json.loads(m.value())["event_id"] for m in republished)
    assert by_id == Counter(repaired_ids)
    validator = jsonschema.Draft7Validator(json.loads(registered.schema))
    for msg in republished:
        event, headers = json.loads(msg.value()), dict(msg.headers())
        assert not list(validator.iter_errors(event))
        assert schema_id_of(msg.headers()) == registered.id and msg.key() == event["event_id"].encode()
        assert headers["dlq-origin"].decode().startswith(f"{dlq}:0:") and headers["dlq-attempt"] == b"1"
        if event["event_id"] in ids:  # a CSV row keeps its event-time slot (the producer's event_time header)
            assert event["event_time"] == HOUR_START_MS + ids.index(event["event_id"]) * 36_000
            assert event["source"] == "avazu_replay"
    repairs = {
        json.loads(m.value())["event_id"]: dict(m.headers()).get("dlq-repairs", b"") for m in republished
    }
    assert b"trim:C15" in repairs[ids[3]] and b"int_format:click" in repairs[ids[4]]
    assert b"lowercase_hex:site_id" in repairs[ids[5]] and b"lowercase_hex:site_category" in repairs[fid[0]]
    assert repairs[fid[2]] == b"", "a transient (sink) failure needs no repair"

    # The others are in errors.dlq_errors with their attempts in errors.retry_history.
    stored = permanent(pg_owner, dlq)
    steps = history(pg_owner, dlq)
    assert {r["event_id"] for r in stored.values()} == exhausted | non_retryable
    assert len(stored) == 9
    for offset, row in stored.items():
        if row["raw_payload"].startswith("garbage"):
            assert (row["reason"], row["retry_count"], row["source"]) == ("non_retryable", 1, "dlq_retry")
            assert row["raw_payload"] == "garbage\ufffd \ufffd"
            continue
        if row["event_id"] in non_retryable:
            assert (row["reason"], row["retry_count"]) == ("non_retryable", 1)
            assert [s[1] for s in steps[offset]] == ["non_retryable"]
        else:
            assert (row["reason"], row["retry_count"]) == ("attempts_exhausted", 3)
            assert [(s[0], s[1]) for s in steps[offset]] == [(1, "failed"), (2, "failed"), (3, "gave_up")]
        assert row["raw_payload"] and row["error_timestamp"] is not None
        assert row["source"] == ("flink" if row["event_id"] in set(fid) | {None} else "producer")
    types = Counter(r["error_type"] for r in stored.values())
    assert types == {"parsing": 4, "schema": 3, "late_event": 1, "flink_logic": 1}
    assert [[step[1] for step in s] for o, s in steps.items() if o not in stored] == [["republished"]] * 5

    # Counts add up: every dead letter is republished or stored, once.
    dead_letters = len(consume(bootstrap, dlq))
    assert dead_letters == 14 == len(by_id) + len(stored) == len(steps)
    assert sum(r.republished for r in reports) == 5 and sum(r.repaired for r in reports) == 4
    assert sum(r.permanent for r in reports) == 9 and sum(r.retried for r in reports) == 5 + 6 * 3
    assert sum(r.read for r in reports) == 14 + 6 + 6, "each dead letter once per attempt"
    # One digest line per run, late events counted aside; a type another run stored within the hour is
    # "(again)" (errors.dlq_errors is read now, after every run: parsing is in the other runs' rows).
    first, last = reports[0].slack_text(), reports[-1].slack_text()
    assert first is not None and last is not None and reports[-1].permanent == 6
    assert first.startswith(
        f":rotating_light: DLQ retry: 2 dead letters from {dlq} failed for good: flink_logic 1, "
        "parsing 1 (again) (+1 late_event, expected during a replay) · <"
    )
    assert last.startswith(
        f":rotating_light: DLQ retry: 6 dead letters from {dlq} failed for good: parsing 3 (again), schema 3 · <"
    )
    assert last.splitlines()[1].startswith(f"e.g. {dlq}:") and len(last.splitlines()) == 2
    assert reports[-1].slack_text(lambda _report, types: set(types)) is None, "nothing new: no digest"

    # A rerun finds nothing to do and changes nothing.
    again = drain(options, writer)
    assert (again.read, again.total_depth, again.slack_text()) == (0, 0, None)
    assert len(permanent(pg_owner, dlq)) == 9


def test_backoff_is_honoured_per_event_without_blocking_other_partitions(
    cfg, topics, registered, writer, pg_owner
):
    """A record not yet due stops its partition there (committed, nothing skipped), others go on."""
    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    raw, dlq = topics()
    _header, rows = sample_rows()
    event = clean_event(rows[30], f"8{uuid.uuid4().int % 10**18:018d}")
    produce_dead_letters(bootstrap, dlq, [(flink_dead_letter(event, "sink", "transient"), {})])
    group = f"dlq_test_{uuid.uuid4().hex[:8]}"
    slow = DrainOptions(
        dlq_topic=dlq, raw_topic=raw, group_id=group, policy=BackoffPolicy(30, 60, 3), pushgateway_url=""
    )
    first = drain(slow, writer)
    assert (first.read, first.retried, first.total_depth) == (0, 0, 1)
    assert first.waiting_partitions == [f"{dlq}:0@0"]
    fast = DrainOptions(
        dlq_topic=dlq, raw_topic=raw, group_id=group, policy=BackoffPolicy(0, 0, 3), pushgateway_url=""
    )
    second = drain(fast, writer)
    assert (second.read, second.republished, second.total_depth) == (1, 1, 0)


def test_an_event_flink_keeps_rejecting_is_given_up_after_three_republishes(
    cfg, topics, registered, writer, pg_owner
):
    """Republished, dead-lettered again by Flink, ...: the attempts count per event, not per dead letter."""
    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    raw, dlq = topics()
    _header, rows = sample_rows()
    event = clean_event(rows[50], f"5{uuid.uuid4().int % 10**18:018d}")
    options = DrainOptions(
        dlq_topic=dlq,
        raw_topic=raw,
        group_id=f"dlq_test_{uuid.uuid4().hex[:8]}",
        policy=BackoffPolicy(0, 0, 3),
        pushgateway_url="",
    )
    outcomes = []
    for _ in range(4):
        produce_dead_letters(bootstrap, dlq, [(flink_dead_letter(event, "schema", "rejected by flink"), {})])
        report = drain(options, writer)
        outcomes.append((report.republished, report.permanent))
    assert outcomes == [(1, 0), (1, 0), (1, 0), (0, 1)]
    assert [s for s in history(pg_owner, dlq).values()] == [
        [(1, "republished", None)],
        [(2, "republished", None)],
        [(3, "republished", None)],
        [(4, "gave_up", "schema")],
    ]
    (stored,) = permanent(pg_owner, dlq).values()
    assert (stored["reason"], stored["event_id"]) == ("attempts_exhausted", event["event_id"])


def test_a_redone_dead_letter_does_not_count_its_own_earlier_republish(
    cfg, topics, registered, writer, pg_owner
):
    """A killed run may commit a dead letter's history row and die before its Kafka transaction: the
    next run redoes that same dead letter as attempt 1, not as a second republish of the event."""
    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    raw, dlq = topics()
    _header, rows = sample_rows()
    event = clean_event(rows[51], f"6{uuid.uuid4().int % 10**18:018d}")
    produce_dead_letters(bootstrap, dlq, [(flink_dead_letter(event, "schema", "rejected by flink"), {})])
    pg_owner.execute(  # what the killed run left behind: its PostgreSQL row for offset 0, attempt 1
        "INSERT INTO errors.retry_history (dlq_topic, dlq_partition, dlq_offset, attempt, event_id, outcome, "
        "repairs, run_id) VALUES (%s, 0, 0, 1, %s, 'republished', '{}', 'killed-run')",
        (dlq, event["event_id"]),
    )
    options = DrainOptions(
        dlq_topic=dlq,
        raw_topic=raw,
        group_id=f"dlq_test_{uuid.uuid4().hex[:8]}",
        policy=BackoffPolicy(0, 0, 3),
        pushgateway_url="",
    )
    report = drain(options, writer)
    assert (report.republished, report.permanent) == (1, 0)
    assert history(pg_owner, dlq) == {0: [(1, "republished", None)]}
    assert [json.loads(m.value())["event_id"] for m in consume(bootstrap, raw)] == [event["event_id"]]


# -- killed midway ---------------------------------------------------------------------------


def test_a_drain_killed_midway_loses_and_duplicates_nothing(cfg, topics, registered, writer, pg_owner):
    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    raw, dlq = topics()
    _header, rows = sample_rows()
    n_good, n_late = 40, 20
    records = []
    good_ids, late_ids = set(), set()
    for i in range(n_good + n_late):
        event_id = f"7{uuid.uuid4().int % 10**18:018d}"
        event = clean_event(rows[i % 100], event_id)
        if i < n_good:
            good_ids.add(event_id)
            records.append((flink_dead_letter({**event, "C1": f" {event['C1']} "}, "schema", "C1"), {}))
        else:
            late_ids.add(event_id)
            records.append((flink_dead_letter(event, "late_event", "late"), {}))
    produce_dead_letters(bootstrap, dlq, records)
    group = f"dlq_test_{uuid.uuid4().hex[:8]}"
    cmd = [
        sys.executable, "-m", "include.dlq.drain", "--dlq-topic", dlq, "--raw-topic", raw, "--group-id", group,
        "--backoff-base-s", "0", "--batch-size", "7", "--record-delay-s", "0.05",
    ]  # fmt: skip
    env = {**os.environ, "PUSHGATEWAY_URL": ""}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = pg_owner.execute(
                "SELECT count(*) FROM errors.retry_history WHERE dlq_topic = %s", (dlq,)
            ).fetchone()[0]
            if done >= 20:
                break
            assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert 20 <= done < n_good + n_late, f"the kill came too late ({done} rows)"

    rerun = drain(
        DrainOptions(
            dlq_topic=dlq, raw_topic=raw, group_id=group, policy=BackoffPolicy(0, 0, 3), pushgateway_url=""
        ),
        writer,
    )
    assert rerun.total_depth == 0 and 0 < rerun.read < n_good + n_late

    committed = [json.loads(m.value())["event_id"] for m in consume(bootstrap, raw)]
    assert Counter(committed) == Counter(good_ids), "every repaired event exactly once (read_committed)"
    # A read_uncommitted reader may see the killed run's aborted records: dlq-origin deduplicates them.
    uncommitted = consume(bootstrap, raw, "read_uncommitted")
    origins = {dict(m.headers())["dlq-origin"]: json.loads(m.value())["event_id"] for m in uncommitted}
    assert sorted(origins.values()) == sorted(good_ids)
    steps = history(pg_owner, dlq)
    assert len(steps) == n_good + n_late and all(len(s) == 1 for s in steps.values())
    stored = permanent(pg_owner, dlq)
    assert {r["event_id"] for r in stored.values()} == late_ids


# -- through Airflow -------------------------------------------------------------------------


def test_dag_run_republishes_stores_and_posts_one_slack_summary(cfg, topics, registered, airflow, pg_owner):
    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    raw, dlq = topics()
    _header, rows = sample_rows()
    ids = [f"6{uuid.uuid4().int % 10**18:018d}" for _ in range(3)]
    good = [clean_event(rows[40 + i], ids[i]) for i in range(3)]
    produce_dead_letters(
        bootstrap,
        dlq,
        [
            (flink_dead_letter({**good[0], "banner_pos": "0"}, "schema", "banner_pos"), {}),
            (flink_dead_letter(good[1], "late_event", "late"), {}),
            (flink_dead_letter(good[2], "flink_logic", "bug"), {}),
        ],
    )
    conf = {
        "dlq_topic": dlq,
        "raw_topic": raw,
        "group_id": f"dlq_test_{uuid.uuid4().hex[:8]}",
        "backoff_base_s": 0,
    }
    was_paused = airflow.wait_for_dag("dag_dlq_retry")["is_paused"]
    try:
        run_id, state = airflow.run_and_wait("dag_dlq_retry", conf, timeout=240)
    finally:  # leave the schedule as it was: while paused, no scheduled run drains the real DLQ
        airflow.set_paused("dag_dlq_retry", was_paused)
    assert state == "success", f"dag_dlq_retry run {run_id} ended {state}"
    report = airflow.xcom("dag_dlq_retry", run_id, "drain")
    assert (report["read"], report["republished"], report["permanent"], report["total_depth"]) == (3, 1, 2, 0)
    assert airflow.xcom("dag_dlq_retry", run_id, "alert") is True
    assert [json.loads(m.value())["event_id"] for m in consume(bootstrap, raw)] == [ids[0]]
    assert {r["event_id"] for r in permanent(pg_owner, dlq).values()} == {ids[1], ids[2]}
    messages = sink_payloads(cfg, dlq)
    assert len(messages) == 1, messages
    assert set(messages[0]) == {"text"}, messages[0]
    headline, example = messages[0]["text"].splitlines()
    details = f"{cfg['AIRFLOW_EXTERNAL_URL']}/dags/dag_dlq_retry/runs/{quote(run_id, safe='')}/tasks/drain"
    assert headline == (
        f":rotating_light: DLQ retry: 1 dead letter from {dlq} failed for good: flink_logic 1 "
        f"(+1 late_event, expected during a replay) · <{details}|details>"
    )
    assert example.startswith(f"e.g. {dlq}:0:") and f" event {ids[2]}: flink_logic: " in example
    assert example.endswith(f"(non_retryable) · errors.dlq_errors WHERE run_id = 'airflow-{run_id}'")
    # The run's metrics are on the Pushgateway, under the run's consumer group.
    metrics = requests.get(f"{cfg['PUSHGATEWAY_URL']}/metrics", timeout=10).text.splitlines()
    ours = {line.split("{")[0]: line for line in metrics if f'consumer_group="{conf["group_id"]}"' in line}
    assert ours["dlq_retry_depth"].endswith(" 0") and ours["dlq_retry_republished"].endswith(" 1"), ours
    assert ours["dlq_retry_repaired"].endswith(" 1") and ours["dlq_retry_read"].endswith(" 3"), ours


def test_dag_run_prunes_kept_payloads_past_their_retention(cfg, topics, registered, airflow):
    """Full payloads of over-long dead letters the retry never settled go after DLQ_PAYLOAD_RETENTION_DAYS."""
    raw, dlq = topics()
    kept = Path(cfg["DLQ_PAYLOAD_DIR"])
    kept.mkdir(parents=True, exist_ok=True)
    days = float(cfg["DLQ_PAYLOAD_RETENTION_DAYS"])
    old, fresh = (kept / hashlib.sha256(uuid.uuid4().bytes).hexdigest() for _ in range(2))
    stranger = kept / f"notes_{uuid.uuid4().hex[:8]}.txt"  # not a kept payload: never touched
    for path in (old, fresh, stranger):
        path.write_bytes(b"x" * 100)
    past = time.time() - (days + 1) * 86400
    for path in (old, stranger):
        os.utime(path, (past, past))
    conf = {"dlq_topic": dlq, "raw_topic": raw, "group_id": f"dlq_test_{uuid.uuid4().hex[:8]}"}
    was_paused = airflow.wait_for_dag("dag_dlq_retry")["is_paused"]
    try:
        run_id, state = airflow.run_and_wait("dag_dlq_retry", conf, timeout=240)
    finally:
        airflow.set_paused("dag_dlq_retry", was_paused)
        fresh_existed, stranger_existed = fresh.exists(), stranger.exists()
        fresh.unlink(missing_ok=True)
        stranger.unlink(missing_ok=True)
    assert state == "success", f"dag_dlq_retry run {run_id} ended {state}"
    assert airflow.xcom("dag_dlq_retry", run_id, "drain")["payloads_pruned"] >= 1
    assert not old.exists(), "a payload past its retention was kept"
    assert fresh_existed, "a payload within its retention was removed"
    assert stranger_existed, "a file that is not a kept payload was removed"


def test_a_failed_task_posts_exactly_one_slack_message(cfg, airflow):
    """dag_avazu_replay with a missing file: validate fails without retries, the notifier posts once."""
    missing = f"data/raw/missing_{uuid.uuid4().hex[:8]}.csv"
    run_id, state = airflow.run_and_wait("dag_avazu_replay", {"file": missing}, timeout=240)
    assert state == "failed"
    deadline = time.monotonic() + 30
    while not (messages := sink_messages(cfg, run_id)) and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(3)  # a second (wrong) message would arrive right after the first
    messages = sink_messages(cfg, run_id)
    assert len(messages) == 1, messages
    text = messages[0]
    assert "Task failed: dag_avazu_replay.validate" in text
    assert f"run: {run_id}" in text and "try: 1" in text
    assert "error: AirflowFailException: invalid replay request:" in text and missing in text
    log_line = next(line for line in text.splitlines() if line.startswith("log: "))
    assert log_line.startswith("log: http") and "dag_avazu_replay" in log_line


def test_a_failure_message_shows_a_hostile_file_name_literally(cfg, airflow):
    """The file param is echoed in the error line: Slack gets it escaped, no mention, no hidden link."""
    hostile = f"data/raw/<!channel> <http://evil.example|click> {uuid.uuid4().hex[:8]}.csv"
    run_id, state = airflow.run_and_wait("dag_avazu_replay", {"file": hostile}, timeout=240)
    assert state == "failed"
    deadline = time.monotonic() + 30
    while not (payloads := sink_payloads(cfg, run_id)) and time.monotonic() < deadline:
        time.sleep(1)
    assert len(payloads) == 1, payloads
    posted = json.dumps(payloads[0])
    assert "<!channel>" not in posted and "<http:" not in posted.replace("<http://127", ""), posted
    shown = str(Path(hostile)).replace("<", "&lt;").replace(">", "&gt;")  # as the error names the path
    assert shown in payloads[0]["text"], payloads[0]["text"]


# -- the alert -------------------------------------------------------------------------------


def test_alert_dag_fires_above_the_threshold_and_stays_quiet_below(cfg, topics, airflow):
    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    producer = Producer(client_conf(bootstrap=bootstrap, extra={"linger.ms": 20}))
    pairs = {}
    for name, dead in (("loud", 25), ("quiet", 1)):
        raw, dlq = topics()
        pairs[name] = (raw, dlq)
        for i in range(1000):
            producer.produce(raw, b"{}", str(i).encode())
        for i in range(dead):
            record = dead_letter(
                f"row {i}", "schema" if i % 5 else "parsing", f"bad {i}", source="producer", event_id=str(i)
            )
            producer.produce(dlq, json.dumps(record).encode(), str(i).encode())
    assert producer.flush(30) == 0
    runs = {}
    was_paused = airflow.wait_for_dag("dag_dlq_alert")["is_paused"]
    try:
        for name, (raw, dlq) in pairs.items():
            conf = {
                "raw_topic": raw,
                "dlq_topic": dlq,
                "window_s": 600,
                "warn_ratio": 0.001,
                "alert_ratio": 0.01,
            }
            airflow.unpause("dag_dlq_alert")
            runs[name] = airflow.trigger("dag_dlq_alert", conf)
        for name, run_id in runs.items():
            assert airflow.wait_for_run("dag_dlq_alert", run_id, timeout=240) == "success", name
    finally:
        airflow.set_paused("dag_dlq_alert", was_paused)
    loud = airflow.xcom("dag_dlq_alert", runs["loud"], "measure")
    assert (loud["raw"], loud["dlq"], loud["level"]) == (1000, 25, "alert")
    assert loud["by_error_type"] == {"schema": 20, "parsing": 5}
    quiet = airflow.xcom("dag_dlq_alert", runs["quiet"], "measure")
    assert (quiet["raw"], quiet["dlq"], quiet["level"]) == (1000, 1, "ok")  # 0.0999% < 0.1%
    assert airflow.xcom("dag_dlq_alert", runs["quiet"], "notify") is False
    messages = sink_messages(cfg, pairs["loud"][1])
    assert len(messages) == 1 and "DLQ rate ALERT: 2.44%" in messages[0], messages
    assert "top error types: schema 20, parsing 5" in messages[0] and "examples:" in messages[0]
    assert sink_messages(cfg, pairs["quiet"][1]) == []


# -- last: the retried failure triggered at the start of the module ----------------------------


def test_a_retried_task_posts_one_slack_message_after_its_last_try(cfg, airflow, retried_failure):
    """DEFAULT_ARGS retries=2: tries 1 and 2 are up_for_retry (no message), try 3 fails and posts once."""
    run_id = retried_failure["run_id"]
    assert airflow.wait_for_run("dag_avazu_replay", run_id, timeout=300) == "failed"
    tis = {
        t["task_id"]: (t["state"], t["try_number"])
        for t in airflow.task_instances("dag_avazu_replay", run_id)
    }
    streamed = {task: tis[task] for task in ("validate", "ensure_partitions", "replay")}
    assert streamed == {
        "validate": ("success", 1),
        "ensure_partitions": ("success", 1),
        "replay": ("failed", 3),
    }
    assert tis["summary"] == ("upstream_failed", 0), tis  # the run's outcome is the failure's note
    deadline = time.monotonic() + 30
    while not sink_messages(cfg, run_id) and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(3)
    messages = sink_messages(cfg, run_id)
    assert len(messages) == 1, messages
    assert "Task failed: dag_avazu_replay.replay" in messages[0] and "try: 3" in messages[0]
    assert f"ServiceError: topic '{retried_failure['topic']}' does not exist" in messages[0]


@pytest.mark.parametrize(
    ("param", "setting"),
    [
        pytest.param("dlq_topic", "TOPIC_RAW", id="raw-as-dlq"),
        pytest.param("raw_topic", "TOPIC_DLQ", id="dlq-as-raw"),
    ],
)
def test_retry_dag_refuses_a_topic_of_the_other_kind_and_creates_no_run(
    airflow: Any, cfg: dict[str, str], param: str, setting: str
) -> None:
    from include.airflow_api import AirflowApiError

    def runs() -> int:
        return airflow._call("GET", "/dags/dag_dlq_retry/dagRuns", params={"limit": 1})["total_entries"]

    before = runs()
    with pytest.raises(AirflowApiError) as refused:
        airflow.trigger("dag_dlq_retry", {param: cfg[setting]})
    assert "-> 400" in str(refused.value) and f"Invalid input for param {param}" in str(refused.value)
    assert runs() == before
