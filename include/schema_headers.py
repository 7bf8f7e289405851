"""The headers that name a record's schema, in the forms stock registry clients read.

Our record values are plain JSON (the streaming job and ``kcat`` read them as they are), so the
schema reference cannot be the Confluent wire format's 5-byte prefix of the value. It travels in
headers instead, one per convention, each naming the same registered schema:

- ``apicurio.value.contentId``: Apicurio Registry 3's own Kafka SerDes (``io.apicurio:
  apicurio-registry-serdes-*``, with ``apicurio.registry.headers.enabled=true``) read the schema's
  content id from this header as an 8-byte big-endian long. Apicurio's Confluent-compatible API
  answers with content ids as schema ids (unless the registry runs with
  ``apicurio.ccompat.legacy-id-mode.enabled``), so it is the id our registry client returns.
- ``__value_schema_id``: confluent-kafka's deserializers (``schema.id.deserializer`` defaults to
  ``dual_schema_id_deserializer``) look here before the value's prefix: magic byte ``0x00`` and the
  id as a 4-byte big-endian unsigned int, i.e. the wire format's 5-byte prefix moved to a header.

Both cost ~45 bytes a record and are built once per run: the producer reuses one list.
No imports beyond the standard library: the producer's workers import this.
"""

from __future__ import annotations

APICURIO_CONTENT_ID = "apicurio.value.contentId"
CONFLUENT_SCHEMA_ID = "__value_schema_id"
SCHEMA_HEADER_NAMES: frozenset[str] = frozenset({APICURIO_CONTENT_ID, CONFLUENT_SCHEMA_ID})

Header = tuple[str, bytes]


def schema_headers(schema_id: int) -> list[Header]:
    """The headers naming the registered schema ``schema_id`` (a Confluent-compatible API id)."""
    if not 0 < schema_id < 2**31:
        raise ValueError(f"schema id must be a positive 32-bit integer, got {schema_id}")
    return [
        (APICURIO_CONTENT_ID, schema_id.to_bytes(8, "big")),
        (CONFLUENT_SCHEMA_ID, b"\x00" + schema_id.to_bytes(4, "big")),
    ]


def schema_id_of(headers: list[Header] | tuple[Header, ...] | None) -> int | None:
    """The schema id a record's headers name (the Apicurio header first), or None."""
    found = dict(headers or ())
    apicurio = found.get(APICURIO_CONTENT_ID)
    if apicurio is not None and len(apicurio) == 8:
        return int.from_bytes(apicurio, "big")
    confluent = found.get(CONFLUENT_SCHEMA_ID)
    if confluent is not None and len(confluent) == 5 and confluent[0] == 0:
        return int.from_bytes(confluent[1:], "big")
    return None
