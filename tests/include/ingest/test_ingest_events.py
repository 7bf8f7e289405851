"""Events against the JSON Schema, their JSON encoding, schema errors as values, and DLQ records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import orjson
import pytest

from include.ingest.avazu_reader import read_avazu
from include.ingest.columnar import ColumnValidator
from include.ingest.economics import PriceModel, load_price_model
from include.ingest.end_of_input import marker_value
from include.ingest.events import (
    SCHEMA_PATH,
    Validator,
    compile_validator,
    dead_letter,
    dead_letter_for,
    encode_live_event,
    encode_row,
    event_schema,
    load_schema,
    to_event,
    truncate_dead_letter,
)
from include.ingest.records import AvazuRow, RowError
from include.schema_registry import DEAD_LETTER_SCHEMA_PATH


@pytest.fixture(scope="module")
def schema() -> dict:
    return load_schema()


@pytest.fixture(scope="module")
def validator(schema: dict) -> Validator:
    return compile_validator(schema)


@pytest.fixture(scope="module")
def model() -> PriceModel:
    return load_price_model()


@pytest.fixture(scope="module")
def sample_events(sample_path: Path, validator: Validator, model: PriceModel) -> list[tuple[dict, bytes]]:
    return [encode_row(r, validator, model) for r in read_avazu(sample_path)]  # type: ignore[misc]


def test_schema_file_is_draft07_and_closed(schema: dict) -> None:
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["additionalProperties"] is False
    assert set(event_schema(schema)["required"]) <= set(schema["properties"])
    assert SCHEMA_PATH.name == "ad_event.schema.json"


def test_markers_are_the_schema_variant_with_a_marker_property(schema: dict, sample_events: list) -> None:
    independent = jsonschema.Draft7Validator(schema)
    marker = orjson.loads(marker_value(1413936000000))
    assert marker == {"marker": "watermark", "event_time": 1413936000000}
    assert list(independent.iter_errors(marker)) == []
    # A marker is exactly its two properties: nothing of an event rides along unvalidated.
    assert not independent.is_valid({**marker, "click": 1})
    assert not independent.is_valid({"marker": "watermark"})
    assert not independent.is_valid({"marker": "stop", "event_time": 1})
    # The replay's old marker shape is neither an event nor a marker.
    assert not independent.is_valid({"event_time": 1413936000000})
    event = sample_events[0][0]
    assert independent.is_valid(event)
    assert not independent.is_valid({**event, "marker": "watermark"})


def test_event_validators_check_the_event_variant(
    schema: dict, validator: Validator, sample_events: list
) -> None:
    events_only = event_schema(schema)
    assert "marker" not in events_only["properties"] and "if" not in events_only
    assert set(events_only["required"]) == set(schema["else"]["required"])
    event = sample_events[0][0]
    assert validator(event) is None
    # An event carrying a marker is an error of the event, not a marker in disguise.
    assert validator({**event, "marker": "watermark"}) is not None
    assert validator(orjson.loads(marker_value(1))) is not None
    # Kept fast: the producer's column checks understand the event variant (no row-by-row fallback).
    assert ColumnValidator(schema).fast
    assert event_schema(events_only) == events_only


def test_dead_letters_validate_against_the_dead_letter_schema(tmp_path: Path) -> None:
    dlq_schema = load_schema(DEAD_LETTER_SCHEMA_PATH)
    jsonschema.Draft7Validator.check_schema(dlq_schema)
    independent = jsonschema.Draft7Validator(dlq_schema)
    record = dead_letter(b"1,\xff\xfe", "parsing", "bad", source="producer", topic="t", event_id="7")
    assert list(independent.iter_errors(record)) == []
    big = truncate_dead_letter(dead_letter(b"x" * 5000, "schema", "m", source="producer"), str(tmp_path))
    assert list(independent.iter_errors(big)) == []
    # The streaming job's dead letters: the same keys minus the producer's raw_payload_b64/raw_ref.
    flink = {k: v for k, v in record.items() if k not in ("raw_payload_b64", "raw_ref")}
    assert list(independent.iter_errors({**flink, "source": "flink", "partition": 2, "offset": 9})) == []
    assert not independent.is_valid({**record, "error_type": "other"})
    assert not independent.is_valid({k: v for k, v in record.items() if k != "error_timestamp"})


def test_sample_gives_100_schema_valid_events(sample_events: list, schema: dict, sample_path: Path) -> None:
    assert len(sample_events) == 100
    assert all(isinstance(item, tuple) for item in sample_events)
    independent = jsonschema.Draft7Validator(schema)
    rows = [r for r in read_avazu(sample_path) if isinstance(r, AvazuRow)]
    for (event, payload), row in zip(sample_events, rows, strict=True):
        assert list(independent.iter_errors(event)) == []
        assert set(event) == set(event_schema(schema)["properties"])
        assert orjson.loads(payload) == event
        assert event["event_id"] == row.values[0] and event["event_time"] == row.event_time
        assert event["campaign_id"] == str(event["C17"]) and event["creative_id"] == str(event["C14"])
        assert event["source"] == "avazu_replay"
    assert sum(e["click"] for e, _ in sample_events) == 20
    assert all(e["conversion"] <= e["click"] for e, _ in sample_events)


def test_payload_is_compact_json(sample_events: list) -> None:
    payload = sample_events[0][1]
    assert payload.startswith(b'{"event_id":"1000009418151094273","click":0,"event_time":1413849600000,')
    assert b" " not in payload and b"\n" not in payload


def test_events_are_reproducible(sample_path: Path, validator: Validator, sample_events: list) -> None:
    again = [encode_row(r, validator, load_price_model()) for r in read_avazu(sample_path)]
    assert [p for _, p in again] == [p for _, p in sample_events]  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"click": 2}, "click", "click must be one of [0, 1]"),
        ({"site_id": "XYZ"}, "site_id", "site_id must match pattern"),
        ({"cost": -0.1}, "cost", "cost must be bigger than or equal to 0"),
        ({"event_id": 12}, "event_id", "event_id must be string"),
        ({"C20": -2}, "C20", "C20 must be bigger than or equal to -1"),
        ({"surprise": 1}, "surprise", "event must not contain"),
        ({"cost": None}, "cost", "cost must be number"),
    ],
)
def test_schema_errors_name_the_field(
    sample_events: list, validator: Validator, change: dict, field: str, message: str
) -> None:
    problem = validator({**sample_events[0][0], **change})
    assert problem is not None
    assert message in problem[0] and problem[1] == field


def test_schema_errors_are_returned_not_raised(
    sample_events: list, validator: Validator, model: PriceModel
) -> None:
    result = encode_live_event({**sample_events[0][0], "click": 2}, b"raw-bytes", validator, model)
    assert isinstance(result, RowError)
    assert (result.error_type, result.field, result.raw) == ("schema", "click", b"raw-bytes")
    assert result.event_id == sample_events[0][0]["event_id"]


def test_missing_required_field_is_named(sample_events: list, validator: Validator) -> None:
    event = dict(sample_events[0][0])
    del event["campaign_id"]
    assert validator(event) == ("event must contain ['campaign_id'] properties", "campaign_id")


def test_schema_error_from_a_parsed_row_keeps_raw_and_line(
    sample_path: Path, validator: Validator, model: PriceModel
) -> None:
    row = next(r for r in read_avazu(sample_path) if isinstance(r, AvazuRow))
    row.values[5] = "NOT-HEX!"
    result = encode_row(row, validator, model)
    assert isinstance(result, RowError)
    assert (result.error_type, result.field, result.line_no, result.raw) == ("schema", "site_id", 2, row.raw)
    assert result.event_id == row.values[0] and result.event_time == row.event_time
    assert encode_row(RowError("parsing", "x", b"r", 3), validator, model) == RowError(
        "parsing", "x", b"r", 3
    )


def test_live_events_keep_their_own_economics(
    sample_events: list, validator: Validator, model: PriceModel
) -> None:
    event = {**sample_events[0][0], "cost": 0.25, "conversion": 0, "revenue": 0, "source": "live"}
    event.pop("price_model_version")
    result = encode_live_event(event, b"{}", validator, model)
    assert isinstance(result, tuple)
    assert result[0]["price_model_version"] is None and result[0]["cost"] == 0.25


def test_to_event_applies_the_model(sample_path: Path, model: PriceModel) -> None:
    row = next(r for r in read_avazu(sample_path) if isinstance(r, AvazuRow))
    event = to_event(row, model, source="backfill")
    v = row.values
    assert (event["cost"], event["conversion"], event["revenue"]) == model.derive(
        v[0], v[1], v[14], v[4], v[8], v[7], v[10]
    )
    assert event["price_model_version"] == model.version and event["source"] == "backfill"


def test_dead_letter_record_has_the_spec_fields() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678_900, tzinfo=UTC)
    record = dead_letter(
        b"1,0,\xff",
        "parsing",
        "invalid UTF-8 at byte 4",
        source="producer",
        error_timestamp=moment,
        topic="ad_events_raw",
        partition=2,
        offset=17,
        event_id="1",
    )
    assert record == {
        "raw_payload": "1,0,\ufffd",
        "raw_payload_b64": "MSwwLP8=",  # the exact bytes: the text alone lost the 0xff
        "raw_ref": None,
        "error_type": "parsing",
        "error_message": "invalid UTF-8 at byte 4",
        "stacktrace": None,
        "retry_count": 0,
        "error_timestamp": "2026-01-02T03:04:05.678Z",
        "source": "producer",
        "topic": "ad_events_raw",
        "partition": 2,
        "offset": 17,
        "event_id": "1",
    }
    now = dead_letter("x", "sink", "boom", source="flink", retry_count=3, stacktrace="Traceback")
    parsed = datetime.fromisoformat(now["error_timestamp"].replace("Z", "+00:00"))
    assert parsed.tzinfo is not None and abs((datetime.now(UTC) - parsed).total_seconds()) < 60
    assert orjson.loads(orjson.dumps(now)) == now


def test_dead_letter_rejects_unknown_values() -> None:
    with pytest.raises(ValueError, match="error_type"):
        dead_letter("x", "oops", "m", source="producer")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="source"):
        dead_letter("x", "schema", "m", source="elsewhere")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="retry_count"):
        dead_letter("x", "schema", "m", source="producer", retry_count=-1)


def test_dead_letter_for_a_row_error() -> None:
    error = RowError("schema", "click must be one of [0, 1]", b"raw", 7, "123", 1, "click")
    record = dead_letter_for(error, retry_count=1)
    assert (record["raw_payload"], record["error_type"], record["event_id"]) == ("raw", "schema", "123")
    assert (record["source"], record["retry_count"]) == ("producer", 1)
