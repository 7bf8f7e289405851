"""Another team reads our topics with a stock client: confluent-kafka's JSONDeserializer, given
only the registry URL, deserializes and validates every record of a replay (events, markers, dead
letters), and the registered schema alone tells markers from events.

The replay writes into fresh scratch topics (created and deleted here), from a small generated file
with bad rows, so the raw topic gets events and end-of-input markers and the DLQ gets dead letters.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from confluent_kafka.admin import NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from stock_consumer_support import consume_stock, stock_registry_conf

from include.ingest.end_of_input import HEARTBEAT_HEADER
from include.ingest.generator import generate
from include.ingest.producer import ReplayOptions, replay
from include.kafka.client_conf import client_conf
from include.schema_headers import schema_id_of

pytestmark = pytest.mark.integration

ROWS, BAD_KINDS = 400, 3  # generate(bad_rows=1) damages one row of each of the three kinds


@pytest.fixture
def scratch_topics(kafka_admin: Any) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    raw, dlq = f"stock_test_raw_{suffix}", f"stock_test_dlq_{suffix}"
    for future in kafka_admin.create_topics([NewTopic(raw, 3, 1), NewTopic(dlq, 1, 1)]).values():
        future.result(timeout=30)
    yield raw, dlq
    kafka_admin.delete_topics([raw, dlq])


def test_stock_json_deserializer_reads_and_validates_every_record(
    bootstrapped: Any, cfg: dict[str, str], scratch_topics: tuple[str, str], tmp_path: Path
) -> None:
    raw, dlq = scratch_topics
    path = tmp_path / "avazu.csv"
    generate(path, ROWS, hours=1, seed=17, bad_rows=1, progress=False)
    report = replay(ReplayOptions(file=path, topic=raw, dlq_topic=dlq, replay_id=f"stock-{raw}"))
    assert report.ok and (report.published, report.dead_lettered) == (ROWS - BAD_KINDS, BAD_KINDS)

    bootstrap, url = cfg["KAFKA_BOOTSTRAP_SERVERS"], cfg["SCHEMA_REGISTRY_URL"]
    registry = SchemaRegistryClient(stock_registry_conf(url))
    records = consume_stock(bootstrap, url, raw)
    schema_ids = {schema_id_of(msg.headers()) for msg, _ in records}
    assert len(schema_ids) == 1, schema_ids
    registered = json.loads(registry.get_schema(schema_ids.pop()).schema_str)
    assert registered == json.loads(registry.get_latest_version(cfg["SCHEMA_SUBJECT"]).schema.schema_str)

    # An independent validator agrees with the deserializer's own validation on every record.
    independent = jsonschema.Draft7Validator(registered)
    assert [v for _, v in records if not independent.is_valid(v)] == []
    # Markers by the schema alone (its `if` branch), and they are exactly what the streaming job
    # treats as markers (the heartbeat header).
    is_marker = jsonschema.Draft7Validator(registered["if"]).is_valid
    by_schema = [(msg.partition(), msg.offset()) for msg, value in records if is_marker(value)]
    by_header = [
        (msg.partition(), msg.offset()) for msg, _ in records if HEARTBEAT_HEADER in dict(msg.headers())
    ]
    assert by_schema == by_header
    # A wake-up and an end-of-input marker on each of the 3 partitions, at least.
    assert len(by_schema) >= 6
    events = [value for _, value in records if not is_marker(value)]
    assert len(events) == ROWS - BAD_KINDS and all("marker" not in e for e in events)
    assert len({e["event_id"] for e in events}) == len(events)

    dead = consume_stock(bootstrap, url, dlq)
    assert len(dead) == BAD_KINDS
    dlq_schema_id = schema_id_of(dead[0][0].headers())
    assert dlq_schema_id == registry.get_latest_version(cfg["DLQ_SCHEMA_SUBJECT"]).schema_id
    dead_letter_schema = jsonschema.Draft7Validator(json.loads(registry.get_schema(dlq_schema_id).schema_str))
    assert [v for _, v in dead if not dead_letter_schema.is_valid(v)] == []
    assert sorted(v["error_type"] for _, v in dead) == ["parsing"] * BAD_KINDS


def test_topic_audit_counts_events_and_markers_and_names_each_invalid_record(
    bootstrapped: Any, cfg: dict[str, str], scratch_topics: tuple[str, str], tmp_path: Path
) -> None:
    from confluent_kafka import Producer

    from include.kafka.topic_audit import audit_topic
    from include.schema_headers import schema_headers

    raw, dlq = scratch_topics
    path = tmp_path / "avazu.csv"
    generate(path, ROWS, hours=1, seed=18, bad_rows=0, progress=False)
    report = replay(ReplayOptions(file=path, topic=raw, dlq_topic=dlq, replay_id=f"audit-{raw}"))
    assert report.ok and report.published == ROWS

    bootstrap, url = cfg["KAFKA_BOOTSTRAP_SERVERS"], cfg["SCHEMA_REGISTRY_URL"]
    registry = SchemaRegistryClient(stock_registry_conf(url))
    raw_id = registry.get_latest_version(cfg["SCHEMA_SUBJECT"]).schema_id
    dlq_id = registry.get_latest_version(cfg["DLQ_SCHEMA_SUBJECT"]).schema_id
    # What a careless producer adds: no header at all, a value its schema refuses, and a dead
    # letter's schema on an event topic.
    producer = Producer(client_conf(bootstrap=bootstrap))
    producer.produce(raw, b'{"event_id":"1"}', b"1", partition=0)
    producer.produce(raw, b'{"event_id":"2","click":7}', b"2", partition=1, headers=schema_headers(raw_id))
    producer.produce(raw, b'{"event_id":"3"}', b"3", partition=2, headers=schema_headers(dlq_id))
    assert producer.flush(30) == 0

    audit = audit_topic(bootstrap, url, raw, cfg["SCHEMA_SUBJECT"])
    assert audit.events == ROWS and audit.markers >= 6  # a wake-up and an end-of-input marker per partition
    assert audit.records == audit.events + audit.markers + 3 and audit.invalid == 3
    assert audit.schema_ids == {raw_id, dlq_id}
    problems = "\n".join(audit.problems)
    assert "partition 0" in problems and "no schema header" in problems
    assert "partition 1" in problems and "click" in problems
    assert "partition 2" in problems and f"not a version of {cfg['SCHEMA_SUBJECT']}" in problems
    assert not audit.ok and "3 INVALID" in audit.summary()
