"""The schema headers as the stock deserializers decode them (their byte layouts, not ours)."""

from __future__ import annotations

import struct

import pytest
from confluent_kafka.schema_registry import dual_schema_id_deserializer
from confluent_kafka.schema_registry.common.serde import SchemaId
from confluent_kafka.serialization import MessageField, SerializationContext

from include.schema_headers import schema_headers, schema_id_of

VALUE = b'{"marker":"watermark","event_time":1}'


@pytest.mark.parametrize("schema_id", [1, 7, 300, 2**31 - 1])
def test_confluent_reads_the_id_from_the_header_and_leaves_the_value_whole(schema_id: int) -> None:
    ctx = SerializationContext("t", MessageField.VALUE, schema_headers(schema_id))
    found = SchemaId("JSON")
    rest = dual_schema_id_deserializer(VALUE, ctx, found)
    assert found.id == schema_id and rest.read() == VALUE


@pytest.mark.parametrize("schema_id", [1, 7, 300, 2**31 - 1])
def test_apicurio_content_id_is_an_8_byte_big_endian_long(schema_id: int) -> None:
    headers = dict(schema_headers(schema_id))
    # java.nio.ByteBuffer.wrap(value).getLong(), as Apicurio's DefaultHeadersHandler reads it.
    assert struct.unpack(">q", headers["apicurio.value.contentId"]) == (schema_id,)
    assert schema_id_of(list(headers.items())) == schema_id


def test_ids_that_no_header_can_carry_are_refused() -> None:
    for bad in (0, -1, 2**31):
        with pytest.raises(ValueError):
            schema_headers(bad)
    assert schema_id_of([("content-type", b"application/json")]) is None
    assert schema_id_of(None) is None
