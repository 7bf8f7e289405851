"""include/dlq/repair.py and attempt.py: the repair rules, then the producer's own validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.dlq.attempt import Repaired, StillBad, attempt
from include.dlq.repair import normalize_int, normalize_number, repair_csv_line, repair_event
from include.ingest.avazu_reader import AVAZU_COLUMNS
from include.ingest.economics import load_price_model
from include.ingest.events import compile_validator, load_schema

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "avazu_sample_100.csv"
COL = {name: i for i, name in enumerate(AVAZU_COLUMNS)}


@pytest.fixture(scope="module")
def validator():
    return compile_validator(load_schema())


@pytest.fixture(scope="module")
def model():
    return load_price_model()


@pytest.fixture(scope="module")
def line() -> str:
    return SAMPLE.read_text().splitlines()[1]


def with_field(line: str, column: str, value: str) -> str:
    fields = line.split(",")
    fields[COL[column]] = value
    return ",".join(fields)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), ("1", 1), (" 1 ", 1), ("+1", 1), ("-1", -1), ("1.0", 1), ("1.000", 1), ("1,0", 1), ("1,00", 1),
     (1.0, 1), ("7\t", 7)],
)  # fmt: skip
def test_integer_forms_that_are_repaired(value, expected):
    assert normalize_int(value) == expected


@pytest.mark.parametrize("value", ["1,000", "1.5", 1.5, "x", "", "1 0", True, None, "1e3", "0x1"])
def test_integer_forms_that_are_left_alone(value):
    assert normalize_int(value) is None


@pytest.mark.parametrize(("value", "expected"), [("0.05", 0.05), (" 0,05 ", 0.05), ("3", 3.0), ("+0.5", 0.5)])
def test_money_text_becomes_a_number(value, expected):
    assert normalize_number(value) == expected


@pytest.mark.parametrize("value", ["1,000", "-1", "abc", 0.5, "1.2.3"])
def test_ambiguous_or_invalid_money_is_left_alone(value):
    assert normalize_number(value) is None


def test_a_valid_line_is_untouched_and_gives_the_producers_bytes(line, validator, model):
    assert repair_csv_line(line) == (line, [])
    result = attempt(line, validator, model, event_time_ms=1413849600123)
    assert isinstance(result, Repaired) and result.repairs == []
    event = json.loads(result.value)
    assert event["event_id"] == line.split(",")[0] and result.key == event["event_id"].encode()
    assert event["event_time"] == 1413849600123 and event["source"] == "avazu_replay"


def test_csv_rules_trim_unquote_numbers_and_hex(line, validator, model):
    bad = with_field(line, "C15", " 320 ")
    bad = with_field(bad, "click", "0.0")
    bad = with_field(bad, "site_id", '"1FBE01FE"')
    bad = "\ufeff" + bad + "\r"
    fixed, repairs = repair_csv_line(bad)
    assert fixed == line
    assert repairs == [
        "int_format:click", "lowercase_hex:site_id", "strip_bom:line", "trim:C15", "unquote:site_id"
    ]  # fmt: skip
    result = attempt(bad, validator, model)
    assert isinstance(result, Repaired)
    assert result.value == attempt(line, validator, model).value, "same bytes as the clean row"


def test_missing_event_time_falls_back_to_the_hour_start(line, validator, model):
    result = attempt(line, validator, model)
    assert json.loads(result.value)["event_time"] == 1413849600000


@pytest.mark.parametrize(
    ("column", "value", "error_type", "message"),
    [
        ("click", "2", "schema", "click must be one of [0, 1]"),
        ("site_id", "XYZ12345", "schema", "site_id must match pattern"),
        ("C15", "3x0", "parsing", "column C15: '3x0' is not an integer"),
        ("hour", "14132100", "parsing", "column hour: '14132100' is not a valid date and hour"),
        ("C15", "1.5", "parsing", "column C15: '1.5' is not an integer"),
    ],
)
def test_unrepairable_lines_stay_bad(line, validator, model, column, value, error_type, message):
    result = attempt(with_field(line, column, value), validator, model)
    assert isinstance(result, StillBad)
    assert (result.error_type, result.event_id) == (error_type, line.split(",")[0])
    assert message in result.message


def test_wrong_column_count_and_invalid_utf8_stay_parsing_errors(line, validator, model):
    short = attempt(line.rsplit(",", 1)[0], validator, model)
    assert (
        isinstance(short, StillBad)
        and short.error_type == "parsing"
        and "expected 24 columns" in short.message
    )
    broken = attempt(with_field(line, "device_id", "a99f\ufffd\ufffd4a"), validator, model)
    assert isinstance(broken, StillBad) and broken.error_type == "parsing" and "UTF-8" in broken.message


def test_json_rules(line, validator, model):
    clean = json.loads(attempt(line, validator, model).value)
    messy = dict(clean)
    messy.update(
        event_id=int(clean["event_id"]), click="0,0", C1=" 1005 ", banner_pos=0.0, cost=f" {clean['cost']} ",
        site_category=clean["site_category"].upper(), campaign_id=int(clean["campaign_id"]), hour=14102100,
    )  # fmt: skip
    repaired, repairs = repair_event(messy)
    assert repaired == clean and list(repaired) == list(clean), "values and key order restored"
    assert repairs == [
        "id_as_text:campaign_id", "id_as_text:event_id", "id_as_text:hour", "int_format:C1",
        "int_format:banner_pos", "int_format:click", "lowercase_hex:site_category", "number_format:cost",
        "trim:C1", "trim:cost",
    ]  # fmt: skip
    result = attempt(json.dumps(messy), validator, model)
    assert isinstance(result, Repaired) and result.value == attempt(line, validator, model).value


def test_json_keeps_the_producers_economics_and_fills_missing_ones(line, validator, model):
    clean = json.loads(attempt(line, validator, model).value)
    kept = json.loads(attempt(json.dumps(clean), validator, model).value)
    assert kept["price_model_version"] == clean["price_model_version"]
    partial = {k: v for k, v in clean.items() if k != "revenue"}
    filled = json.loads(attempt(json.dumps(partial), validator, model).value)
    assert filled["revenue"] == clean["revenue"]


@pytest.mark.parametrize(
    ("payload", "error_type"),
    [("{not json", "parsing"), ("[1, 2]", "parsing"), ('{"event_id": "1"}', "schema")],
)
def test_bad_json_payloads(payload, error_type, validator, model):
    result = attempt(payload, validator, model)
    assert isinstance(result, StillBad) and result.error_type == error_type
