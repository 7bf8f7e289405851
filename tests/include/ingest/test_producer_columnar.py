"""The producer's columnar fast path gives byte-identical results to the per-row reference path.

Reference: ``avazu_reader.parse_row`` + replay event times + ``events.encode_row`` with fastjsonschema.
If these tests fail, the fast path changed what gets published, not just how fast.
"""

from __future__ import annotations

import copy
from itertools import islice

import pytest

from include.ingest.avazu_reader import iter_lines, open_avazu, read_avazu
from include.ingest.columnar import EVENT_KEYS, BlockEncoder, ColumnValidator, serialize_many
from include.ingest.economics import load_price_model
from include.ingest.event_time import hour_start_ms, iter_hour_batches
from include.ingest.events import compile_validator, encode_row, load_schema, to_event
from include.ingest.records import RowError


@pytest.fixture(scope="module")
def schema():
    return load_schema()


@pytest.fixture(scope="module")
def model():
    return load_price_model()


def _reference(path, schema, model, limit=None):
    validator = compile_validator(schema)
    out = []
    for row in islice(read_avazu(path), limit):
        encoded = encode_row(row, validator, model)
        out.append(
            encoded if isinstance(encoded, RowError) else (encoded[0]["event_id"].encode(), encoded[1])
        )
    return out


def _columnar(path, schema, model, block=1024, limit=None):
    encoder = BlockEncoder(ColumnValidator(schema), model)
    out = []
    with open_avazu(path) as stream:
        for batch in iter_hour_batches(iter_lines(stream)):
            n = len(batch.lines)
            start = hour_start_ms(batch.hour) if batch.hour is not None else None
            for k in range(0, n, block):
                lines = batch.lines[k : k + block]
                out += encoder.encode(
                    lines, range(k, k + len(lines)), batch.hour, start, n, batch.first_line_no
                )
            if limit is not None and len(out) >= limit:
                return out[:limit], encoder
    return out, encoder


def test_sample_is_identical_and_takes_the_fast_path(sample_path, schema, model):
    fast, encoder = _columnar(sample_path, schema, model)
    assert fast == _reference(sample_path, schema, model)
    assert encoder.fast_rows == 100 and encoder.reference_rows == 0


def test_generated_rows_are_byte_identical(generated_200k, schema, model):
    path, _ = generated_200k
    fast, encoder = _columnar(path, schema, model, limit=60_000)
    assert fast == _reference(path, schema, model, limit=60_000)
    assert encoder.fast_rows >= 60_000


def test_a_block_with_bad_rows_gives_the_readers_errors_and_keeps_good_rows(
    tmp_path, sample_lines, schema, model
):
    header, rows = sample_lines[0], list(sample_lines[1:])
    rows[3] = rows[3].rsplit(b",", 1)[0]  # 23 columns
    rows[10] = rows[10].replace(b",1005,", b",10x5,", 1)  # unparseable number
    fields = rows[20].split(b",")
    fields[1] = b"2"  # click=2: schema error
    rows[20] = b",".join(fields)
    fields = rows[30].split(b",")
    fields[5] = b"zzzzzzzz"  # not hex: schema error
    rows[30] = b",".join(fields)
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\n".join([header, *rows]) + b"\n")
    fast, _ = _columnar(path, schema, model)
    ref = _reference(path, schema, model)
    assert fast == ref
    kinds = {i: r.error_type for i, r in enumerate(fast) if isinstance(r, RowError)}
    assert kinds == {3: "parsing", 10: "parsing", 20: "schema", 30: "schema"}


MUTATIONS = [
    pytest.param("click", 2, id="click-enum"),
    pytest.param("click", True, id="click-bool"),
    pytest.param("event_id", "12a", id="id-pattern"),
    pytest.param("event_id", "1" * 21, id="id-too-long"),
    pytest.param("site_id", "ABCDEF12", id="hex-uppercase"),
    pytest.param("site_id", "abcdef12\n", id="hex-trailing-newline"),
    pytest.param("site_id", "abcdef1", id="hex-short"),
    pytest.param("site_id", 12345678, id="hex-not-string"),
    pytest.param("banner_pos", -1, id="minimum"),
    pytest.param("C20", -2, id="minimum-minus-one"),
    pytest.param("C14", 1.5, id="integer-float"),
    pytest.param("cost", -0.01, id="cost-negative"),
    pytest.param("cost", float("nan"), id="cost-nan"),
    pytest.param("campaign_id", "", id="min-length"),
    pytest.param("campaign_id", "x" * 65, id="max-length"),
    pytest.param("price_model_version", 3, id="string-or-null"),
    pytest.param("source", None, id="required-type"),
]


@pytest.mark.parametrize(("field", "value"), MUTATIONS)
def test_column_validator_never_passes_what_the_reference_rejects(sample_path, schema, model, field, value):
    """One bad value among valid events: the fast checks must flag that row, and the reference decides."""
    rows = [r for r in read_avazu(sample_path)]
    events = [to_event(r, model) for r in rows[:50]]
    events[17] = copy.deepcopy(events[17])
    events[17][field] = value
    validator = ColumnValidator(schema)
    columns = [[e[k] for e in events] for k in EVENT_KEYS]
    suspects = validator.suspects(EVENT_KEYS, columns, len(events))
    rejected = {i for i, e in enumerate(events) if validator.reference(e) is not None}
    assert suspects is None or rejected <= set(suspects)
    if rejected:
        assert suspects is not None and 17 in suspects


def test_unknown_schema_keywords_switch_the_fast_checks_off(schema):
    changed = copy.deepcopy(schema)
    changed["properties"]["site_id"]["format"] = "hostname"
    validator = ColumnValidator(changed)
    assert not validator.fast
    assert validator.suspects(["site_id"], [["abcdef12"]], 1) is None  # every row to the reference


def test_serialize_many_matches_per_event_dumps_and_falls_back_on_ambiguity():
    import orjson

    events = [{"a": 1, "b": "x"}, {"a": 2, "b": "},{"}, {"a": 3, "b": "line\nbreak"}]
    assert serialize_many(events) == [orjson.dumps(e) for e in events]
    plain = [{"a": i, "f": i / 7} for i in range(500)]
    assert serialize_many(plain) == [orjson.dumps(e) for e in plain]
