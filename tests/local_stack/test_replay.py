"""The Avazu replay against the real stack: Kafka, the schema registry, the Pushgateway and Airflow.

Every test publishes into its own fresh topics (created and deleted here), except
``test_dag_with_default_params_replays_the_sample_into_ad_events_raw``, which checks the real topic by
event id between the offsets before and after the run.
"""

from __future__ import annotations

import calendar
import json
import logging
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from airflow_logs_support import task_log
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

from include.ingest import kafka_producer as producer_module
from include.ingest.avazu_reader import iter_lines, open_avazu
from include.ingest.blocks import iter_blocks as _blocks
from include.ingest.economics import load_price_model
from include.ingest.end_of_input import HEARTBEAT_HEADER, end_of_input_time
from include.ingest.event_time import hour_start_ms, iter_hour_batches
from include.ingest.generator import generate
from include.ingest.kafka_producer import PRODUCER_DEFAULTS
from include.ingest.pacing import Pace
from include.ingest.producer import ReplayOptions, replay
from include.ingest.redelivery import high_watermarks
from include.ingest.sender import Sender
from include.kafka.client_conf import client_conf
from include.kafka.metadata import committed_reader, end_offsets
from include.kafka.topic_reader import TopicReadThrough
from include.schema_headers import schema_id_of
from include.schema_registry import SchemaRegistryClient, fetch_schema

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "avazu_sample_100.csv"


def is_marker(msg: Any) -> bool:
    return any(name == HEARTBEAT_HEADER for name, _ in msg.headers() or [])


def consume_all(
    bootstrap: str, topic: str, start: dict[int, int] | None = None, markers: bool = False
) -> dict[int, list[Any]]:
    """Every record of ``topic`` up to the high watermarks, per partition, in offset order.

    End-of-input markers are left out unless ``markers``: then only they are returned.
    """
    consumer = committed_reader(bootstrap, "t")
    try:
        reader = TopicReadThrough(consumer, topic, start)
        out: dict[int, list[Any]] = {p: [] for p in end_offsets(consumer, topic)}
        for batch in reader.batches(size=10_000, deadline_s=120):
            for msg in batch:
                if is_marker(msg) == markers:
                    out[msg.partition()].append(msg)
        assert reader.unread() == 0, f"did not reach the end of {topic}: {reader.unread()} offsets left"
        return out
    finally:
        consumer.close()


@pytest.fixture
def topics(kafka_admin, cfg) -> Iterator[Any]:
    """A factory of fresh topics (3 partitions for raw, 1 for DLQs), all deleted at the end."""
    created: list[str] = []

    def make(kind: str = "raw") -> str:
        name = f"scratch_{kind}_replay_test_{uuid.uuid4().hex[:8]}"
        spec = NewTopic(name, 3 if kind == "raw" else 1, 1)
        kafka_admin.create_topics([spec])[name].result(timeout=30)
        created.append(name)
        return name

    yield make
    if created:
        kafka_admin.delete_topics(created)


@pytest.fixture(scope="module")
def registered(bootstrapped, cfg) -> Any:
    found = SchemaRegistryClient(cfg["SCHEMA_REGISTRY_URL"]).latest(cfg["SCHEMA_SUBJECT"])
    assert found is not None, "the bootstrap DAG ran but the event schema is not registered"
    return found


def spec_event_times(hour: str, n: int) -> list[int]:
    """docs/design.md "Event time", computed independently: hour start + floor(i * 3600000 / n) ms."""
    start = calendar.timegm((2000 + int(hour[:2]), int(hour[2:4]), int(hour[4:6]), int(hour[6:8]), 0, 0))
    return [start * 1000 + (i * 3_600_000) // n for i in range(n)]


def test_sample_replays_100_valid_records_with_schema_id_times_and_economics(cfg, topics, registered):
    raw, dlq = topics(), topics("dlq")
    replay_id = f"test-{uuid.uuid4().hex[:8]}"
    report = replay(ReplayOptions(file=SAMPLE, topic=raw, dlq_topic=dlq, replay_id=replay_id))
    assert (report.rows_read, report.published, report.dead_lettered, report.failed) == (100, 100, 0, 0)
    assert report.ok and report.schema_id == registered.id

    records = [m for msgs in consume_all(cfg["KAFKA_BOOTSTRAP_SERVERS"], raw).values() for m in msgs]
    assert len(records) == 100
    validator = jsonschema.Draft7Validator(json.loads(registered.schema))
    lines = SAMPLE.read_text().splitlines()[1:]
    ids_in_order = [line.split(",", 1)[0] for line in lines]
    expected_time = dict(zip(ids_in_order, spec_event_times("14102100", 100), strict=True))
    for msg in records:
        event = json.loads(msg.value())
        assert not list(validator.iter_errors(event)), event
        headers = dict(msg.headers())
        assert schema_id_of(msg.headers()) == registered.id and "schema_id" not in headers
        assert headers["content-type"] == b"application/json"
        assert msg.key() == event["event_id"].encode()
        assert event["event_time"] == expected_time[event["event_id"]]
        assert event["cost"] > 0 and event["conversion"] in (0, 1) and event["revenue"] >= 0
        assert event["price_model_version"] and event["source"] == "avazu_replay"
    assert sorted(json.loads(m.value())["event_id"] for m in records) == sorted(ids_in_order)
    # Watermark markers: each partition starts with a wake-up marker at the first event's time and
    # ends with an end-of-input marker just past the replayed hour, after every event.
    markers = consume_all(cfg["KAFKA_BOOTSTRAP_SERVERS"], raw, markers=True)
    first_time, end_time = spec_event_times("14102100", 100)[0], end_of_input_time(hour_start_ms(b"14102100"))
    for p in range(3):
        times = [json.loads(m.value())["event_time"] for m in markers[p]]
        assert times[0] == first_time and times[-1] == end_time, times
        assert times == sorted(times), f"partition {p}: markers go back in time: {times}"
        events = [m.offset() for m in records if m.partition() == p]
        assert markers[p][0].offset() < min(events) and markers[p][-1].offset() > max(events)
    assert len(consume_all(cfg["KAFKA_BOOTSTRAP_SERVERS"], dlq)[0]) == 0

    # The run's metrics reach the local Prometheus through the Pushgateway. A scrape may land between
    # the replay's first push (nothing published yet) and its final one, so wait for the final count.
    query = f'avazu_replay_rows_published_total{{replay_id="{replay_id}"}}'
    deadline, value = time.monotonic() + 40, None
    while time.monotonic() < deadline:
        result = requests.get(
            f"http://127.0.0.1:{cfg['PROMETHEUS_PORT']}/api/v1/query", params={"query": query}, timeout=5
        ).json()["data"]["result"]
        value = float(result[0]["value"][1]) if result else None
        if value == 100.0:
            break
        time.sleep(2)
    assert value == 100.0, f"{query} = {value} in Prometheus, expected the final count 100"


def _corrupt_file(tmp_path: Path) -> tuple[Path, dict[int, tuple[str, bytes]]]:
    """The sample with one row of every failure kind; returns {row index: (error_type, raw line)}."""
    lines = SAMPLE.read_bytes().splitlines()
    header, rows = lines[0], lines[1:]

    def set_field(i: int, col: int, value: bytes) -> None:
        fields = rows[i].split(b",")
        fields[col] = value
        rows[i] = b",".join(fields)

    rows[5] = rows[5].rsplit(b",", 2)[0]  # 22 columns
    set_field(15, 13, b"\xff\xfe" + rows[15].split(b",")[13][2:])  # invalid UTF-8
    set_field(25, 17, b"3x0")  # C15 not a number
    set_field(35, 1, b"2")  # click=2
    set_field(45, 5, b"XYZ12345")  # site_id not hex
    set_field(55, 7, b"")  # site_category missing
    bad = {5: "parsing", 15: "parsing", 25: "parsing", 35: "schema", 45: "schema", 55: "schema"}
    path = tmp_path / "corrupt.csv"
    path.write_bytes(b"\n".join([header, *rows]) + b"\n")
    return path, {i: (kind, rows[i]) for i, kind in bad.items()}


def test_corrupted_rows_land_in_the_dlq_with_type_and_original_bytes(cfg, topics, tmp_path):
    raw, dlq = topics(), topics("dlq")
    path, bad = _corrupt_file(tmp_path)
    report = replay(ReplayOptions(file=path, topic=raw, dlq_topic=dlq))
    assert report.rows_read == 100
    assert (report.published, report.dead_lettered, report.failed) == (94, 6, 0)
    assert report.by_error_type == {"parsing": 3, "schema": 3}
    assert report.ok

    dead = [json.loads(m.value()) for m in consume_all(cfg["KAFKA_BOOTSTRAP_SERVERS"], dlq)[0]]
    assert len(dead) == 6
    by_payload = {d["raw_payload"]: d for d in dead}
    for _i, (kind, line) in bad.items():
        record = by_payload[line.decode("utf-8", errors="replace")]
        assert record["error_type"] == kind
        assert record["source"] == "producer" and record["retry_count"] == 0
        assert record["error_message"] and record["error_timestamp"].endswith("Z")
    assert sum(len(v) for v in consume_all(cfg["KAFKA_BOOTSTRAP_SERVERS"], raw).values()) == 94


def test_replaying_a_range_twice_gives_identical_keys_and_values_in_order(cfg, topics, tmp_path):
    path = tmp_path / "gen.csv"
    generate(path, 30_000, "14102200", 6, seed=2024, progress=False)
    first, second = topics(), topics()
    a = replay(ReplayOptions(file=path, hour_from="14102201", hour_to="14102203", topic=first))
    # Same range through the paced single-sender path (fast enough to take a second).
    b = replay(
        ReplayOptions(
            file=path, hour_from="14102201", hour_to="14102203", topic=second, pace=Pace.parse("speed:100000")
        )
    )
    assert a.ok and b.ok and a.published == b.published > 0
    assert a.workers > 1 and b.workers == 1
    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    left, right = consume_all(bootstrap, first), consume_all(bootstrap, second)
    for partition in left:
        ka = [(m.key(), m.value()) for m in left[partition]]
        kb = [(m.key(), m.value()) for m in right[partition]]
        assert ka == kb, f"partition {partition} differs"
        times = [json.loads(v)["event_time"] for _, v in ka]
        assert times == sorted(times), f"partition {partition} is not in event-time order"
    assert sum(len(v) for v in left.values()) == a.published
    assert min(len(v) for v in left.values()) > a.published / 6  # keys spread over the partitions


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "include.ingest.replay", "--no-progress", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        pytest.param("missing", "file not found", id="missing-file"),
        pytest.param("header", "not an Avazu header", id="bad-header"),
        pytest.param("range", "no rows in hours 14102300..14102301", id="empty-range"),
        pytest.param("order", "from 14102105 is after to 14102101", id="reversed-range"),
    ],
)
def test_cli_input_errors_are_one_line_with_exit_code_2(tmp_path, kind, message):
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("a,b,c\n1,2,3\n")
    args = {
        "missing": ["--file", str(tmp_path / "nope.csv")],
        "header": ["--file", str(bad_header)],
        "range": ["--file", str(SAMPLE), "--from-hour", "14102300", "--to-hour", "14102301"],
        "order": ["--file", str(SAMPLE), "--from-hour", "14102105", "--to-hour", "14102101"],
    }[kind]
    result = _cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_cli_unreachable_registry_is_one_line_with_exit_code_3():
    import os

    env = {**os.environ, "SCHEMA_REGISTRY_URL": "http://127.0.0.1:9/apis/ccompat/v7"}
    result = _cli("--file", str(SAMPLE), env=env)
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "schema registry unreachable" in result.stderr


def test_cli_replays_and_prints_the_accounting(cfg, topics):
    raw, dlq = topics(), topics("dlq")
    result = _cli("--file", str(SAMPLE), "--topic", raw, "--dlq-topic", dlq, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows_read"] == report["published"] == 100 and report["ok"] is True
    assert "rows read" in result.stderr and "OK" in result.stderr


def _topic_ends(cfg: dict[str, str]) -> dict[str, int]:
    return {
        t: sum(high_watermarks(cfg["KAFKA_BOOTSTRAP_SERVERS"], t).values())
        for t in (cfg["TOPIC_RAW"], cfg["TOPIC_DLQ"])
    }


@pytest.mark.parametrize(
    ("flag", "topic", "kind"),
    [
        pytest.param("--topic", "ad_events_error", "raw", id="dlq-as-raw"),
        pytest.param("--topic", "__consumer_offsets", "raw", id="internal-topic"),
        pytest.param("--dlq-topic", "ad_events_raw", "dlq", id="raw-as-dlq"),
    ],
)
def test_cli_refuses_a_topic_outside_its_allow_list_before_reading_anything(
    bootstrapped, cfg, tmp_path, flag, topic, kind
):
    before = _topic_ends(cfg)
    # A file that does not exist: the topic is refused before the file is even looked at.
    result = _cli("--file", str(tmp_path / "never_opened.csv"), flag, topic)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"replay: error: topic {topic!r} is not an allowed {kind} topic: allowed are "
        + ", ".join([cfg[f"TOPIC_{kind.upper()}"], cfg[f"TOPIC_{kind.upper()}_EXTRA"]])
        + f" (settings TOPIC_{kind.upper()} and TOPIC_{kind.upper()}_EXTRA)"
    ], result.stderr
    assert _topic_ends(cfg) == before, "a refused replay published something"


def test_dag_refuses_the_dlq_as_its_topic_and_creates_no_run(airflow, cfg):
    from include.airflow_api import AirflowApiError

    before = airflow._call("GET", "/dags/dag_avazu_replay/dagRuns", params={"limit": 1})["total_entries"]
    with pytest.raises(AirflowApiError) as refused:
        airflow.trigger("dag_avazu_replay", {"topic": cfg["TOPIC_DLQ"]})
    assert "-> 400" in str(refused.value) and "Invalid input for param topic" in str(refused.value)
    after = airflow._call("GET", "/dags/dag_avazu_replay/dagRuns", params={"limit": 1})["total_entries"]
    assert after == before


def test_dag_replays_exactly_the_requested_hour_range(airflow, cfg, topics):
    # Under DATA_DIR/raw: the DAG's file param only reads files under the input roots.
    path = Path(cfg["DATA_DIR"]) / "raw" / f"test_dag_range_{uuid.uuid4().hex[:8]}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    result = generate(path, 6_000, "14102500", 6, seed=777, progress=False)
    counts = dict(result.hours)
    raw = topics()
    try:
        run_id, state = airflow.run_and_wait(
            "dag_avazu_replay",
            conf={"file": str(path), "from_hour": "14102502", "to_hour": "14102504", "topic": raw},
            timeout=300,
        )
    finally:
        path.unlink()
    assert state == "success", task_log(cfg, "dag_avazu_replay", run_id, "replay")[-2000:]
    expected = counts["14102502"] + counts["14102503"] + counts["14102504"]
    report = airflow.xcom("dag_avazu_replay", run_id, "replay")
    assert report["rows_read"] == report["published"] == expected and report["ok"]
    events = [
        json.loads(m.value()) for ms in consume_all(cfg["KAFKA_BOOTSTRAP_SERVERS"], raw).values() for m in ms
    ]
    assert len(events) == expected
    assert {e["hour"] for e in events} == {"14102502", "14102503", "14102504"}
    assert len({e["event_id"] for e in events}) == expected


def test_dag_rejects_a_bad_range_with_a_clear_message(airflow, cfg):
    run_id, state = airflow.run_and_wait(
        "dag_avazu_replay", conf={"from_hour": "14102105", "to_hour": "14102101"}, timeout=180
    )
    assert state == "failed"
    states = {t["task_id"]: t["state"] for t in airflow.task_instances("dag_avazu_replay", run_id)}
    assert states["validate"] == "failed" and states["replay"] == "upstream_failed"
    log = task_log(cfg, "dag_avazu_replay", run_id, "validate")
    assert "invalid replay request: bad range: from_hour 14102105 is after to_hour 14102101" in log


def _topic_ends_of(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = Consumer(client_conf(bootstrap=bootstrap, extra={"group.id": f"t-{uuid.uuid4().hex[:8]}"}))
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            return {}
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in meta.partitions
        }
    finally:
        consumer.close()


def test_dag_with_default_params_streams_or_backfills_the_sample_by_the_watermark(airflow, cfg, kafka_admin):
    """The one test on the real topics: the sample's hour streams into ad_events_raw while it is ahead
    of the live job's watermark, and is backfilled (through TOPIC_BACKFILL) once the job has passed it;
    either way each sample row is published exactly once, and the run says which."""
    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    topics = {"stream": cfg["TOPIC_RAW"], "backfill": cfg["TOPIC_BACKFILL"]}
    before = {kind: _topic_ends_of(bootstrap, topic) for kind, topic in topics.items()}
    run_id, state = airflow.run_and_wait("dag_avazu_replay", conf={}, timeout=600)
    assert state == "success", task_log(cfg, "dag_avazu_replay", run_id, "validate")[-2000:]
    # validate reads the watermark itself: its plan is the truth (a job restored from a checkpoint
    # shows its watermark only after its next event, so the test cannot predict it exactly).
    plan = airflow.xcom("dag_avazu_replay", run_id, "validate")["plan"]
    result = airflow.xcom("dag_avazu_replay", run_id, "summary")
    sample_hour = SAMPLE.read_text().splitlines()[1].split(",")[2]
    kind = "backfill" if plan["backfill"] else "stream"
    assert (
        plan[kind] == [sample_hour, sample_hour] and not plan["stream" if kind == "backfill" else "backfill"]
    )
    assert plan["reason"] in result["summary"]
    if kind == "backfill":
        report = airflow.xcom("dag_avazu_replay", run_id, "backfill")
        assert report["published"] == 100 and report["windows_written"] > 0, report
        assert result["windows_rewritten"] == report["windows_written"]
    ids = {line.split(",", 1)[0] for line in SAMPLE.read_text().splitlines()[1:]}
    added = [m for ms in consume_all(bootstrap, topics[kind], start=before[kind]).values() for m in ms]
    ours = [json.loads(m.value())["event_id"] for m in added if m.key() and m.key().decode() in ids]
    assert sorted(ours) == sorted(ids)  # each sample row exactly once (concurrent writers may add others)


def _sender_for(
    cfg: dict[str, str], topic: str, dlq: str, path: Path, overrides: dict[str, Any] | None = None
) -> tuple[Sender, list[Any]]:
    """A single sender over ``topic`` (3 partitions) and the blocks of ``path``, as replay() builds them."""
    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    schema_id, schema = fetch_schema(cfg["SCHEMA_REGISTRY_URL"], cfg["SCHEMA_SUBJECT"])
    conf = client_conf(cfg, extra={**PRODUCER_DEFAULTS, **(overrides or {})})
    start = {name: high_watermarks(bootstrap, name) for name in (topic, dlq)}
    sender = Sender(conf, topic, dlq, schema_id, schema, load_price_model(None), None, str(path), start)
    sender.owned_partitions = {0, 1, 2}
    with open_avazu(path) as stream:
        blocks = [block for _, block, _ in _blocks(iter_hour_batches(iter_lines(stream), None, None), 3, 1)]
    return sender, blocks


def _assert_exactly_once_in_order(bootstrap: str, topic: str, rows: int) -> None:
    records = consume_all(bootstrap, topic)
    _assert_distinct_keys(records, rows)
    for partition, msgs in records.items():
        times = [json.loads(m.value())["event_time"] for m in msgs]
        assert times == sorted(times), f"partition {partition} is out of event-time order"


def _assert_distinct_keys(records: dict[int, list[Any]], count: int) -> None:
    keys = [m.key() for msgs in records.values() for m in msgs]
    assert len(keys) == len(set(keys)) == count


def test_a_replaced_producer_neither_loses_nor_duplicates_rows(cfg, topics, registered, tmp_path):
    """What the stall watchdog does to a stuck client, done mid-replay: purge it, check, send the rest."""
    path, rows = tmp_path / "gen.csv", 20_000
    generate(path, rows, "14102200", 2, seed=77, progress=False)
    lines = path.read_bytes().split(b"\n")
    for i in range(1, rows + 1, 400):  # every 400th row gets a click the schema refuses: a dead letter
        fields = lines[i].split(b",")
        fields[1] = b"7"
        lines[i] = b",".join(fields)
    path.write_bytes(b"\n".join(lines))
    bad = len(range(1, rows + 1, 400))
    topic, dlq = topics(), topics("dlq")
    sender, blocks = _sender_for(cfg, topic, dlq, path)
    half = len(blocks) // 2
    for block in blocks[:half]:
        sender.handle(block)
    assert len(sender.producer) > 0, "nothing left in the client to purge: the test proves nothing"
    sender._recover()
    for block in blocks[half:]:
        sender.handle(block)
    assert sender.close(120) == 0
    counters = sender.counters
    assert (counters.published, counters.dead_lettered, counters.failed) == (rows - bad, bad, 0)
    _assert_exactly_once_in_order(cfg["KAFKA_BOOTSTRAP_SERVERS"], topic, rows - bad)
    _assert_distinct_keys(consume_all(cfg["KAFKA_BOOTSTRAP_SERVERS"], dlq), bad)


def test_rows_a_replaced_client_never_reported_are_looked_up_not_lost(
    cfg, topics, registered, tmp_path, monkeypatch, caplog
):
    """A replaced client may drop rows without ever reporting them (after a broker restart under load,
    1,256 rows once vanished from a replay's accounting). Here the old client gets no time at all to
    report what it purged: every row, events and dead letters, must still land exactly once."""
    monkeypatch.setattr(producer_module, "PURGE_REPORT_WAIT_S", 0.0)
    path, rows = tmp_path / "gen.csv", 12_000
    generate(path, rows, "14102200", 2, seed=79, progress=False)
    lines = path.read_bytes().split(b"\n")
    for i in range(1, rows + 1, 300):  # dead letters too: they are held by sequence, not by key
        fields = lines[i].split(b",")
        fields[1] = b"7"
        lines[i] = b",".join(fields)
    path.write_bytes(b"\n".join(lines))
    bad = len(range(1, rows + 1, 300))
    topic, dlq = topics(), topics("dlq")
    sender, blocks = _sender_for(cfg, topic, dlq, path, {"linger.ms": 60_000})
    half = len(blocks) // 2
    for block in blocks[:half]:
        sender.handle(block)
    assert sender.producer.flush(60) == 0  # the first half is delivered and reported
    for block in blocks[half:]:
        sender.handle(block)  # the second half lingers in the client
    held = len(sender.outstanding)
    assert held > 0, "nothing held when the client was replaced: the test proves nothing"
    with caplog.at_level(logging.WARNING, logger="include.ingest.kafka_producer"):
        sender._recover()
    assert f"{held} record(s) got no delivery report from the replaced Kafka client" in caplog.text
    assert sender.close(120) == 0
    counters = sender.counters
    assert (counters.published, counters.dead_lettered, counters.failed) == (rows - bad, bad, 0)
    _assert_exactly_once_in_order(cfg["KAFKA_BOOTSTRAP_SERVERS"], topic, rows - bad)
    _assert_distinct_keys(consume_all(cfg["KAFKA_BOOTSTRAP_SERVERS"], dlq), bad)


def test_a_sender_that_gets_no_delivery_reports_replaces_its_producer(
    cfg, topics, registered, tmp_path, monkeypatch, caplog
):
    """A client that holds rows and reports nothing while the broker answers (here: a one-minute
    linger, standing in for a client stuck after a broker restart) is replaced by the watchdog, and
    every row still lands exactly once, in order."""
    monkeypatch.setattr(producer_module, "STALL_S", 1.0)
    path, rows = tmp_path / "gen.csv", 3_000  # three blocks, each partition's batch under batch.size
    generate(path, rows, "14102200", 1, seed=78, progress=False)
    topic = topics()
    sender, blocks = _sender_for(cfg, topic, topics("dlq"), path, {"linger.ms": 60_000})
    with caplog.at_level(logging.WARNING, logger="include.ingest.producer"):
        for block in blocks:
            sender.handle(block)
            time.sleep(1.2)  # slow input: the watchdog looks after every block
        assert sender.close(120) == 0
    assert "replacing the Kafka producer" in caplog.text
    assert (sender.counters.published, sender.counters.failed) == (rows, 0)
    _assert_exactly_once_in_order(cfg["KAFKA_BOOTSTRAP_SERVERS"], topic, rows)
