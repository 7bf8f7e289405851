"""The schema registry: the event schema is registered by the bootstrap, and the API round-trips."""

from __future__ import annotations

import json
import uuid

import pytest

from include.schema_registry import (
    DEAD_LETTER_SCHEMA_PATH,
    EVENT_SCHEMA_PATH,
    SchemaRegistryClient,
    ensure_subject,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def client(cfg):
    return SchemaRegistryClient(cfg["SCHEMA_REGISTRY_URL"])


def test_event_schema_registered_with_backward_compatibility(bootstrapped, client, cfg):
    latest = client.latest(cfg["SCHEMA_SUBJECT"])
    assert latest is not None
    assert json.loads(latest.schema) == json.loads(EVENT_SCHEMA_PATH.read_text())
    assert client.compatibility(cfg["SCHEMA_SUBJECT"]) == "BACKWARD"
    dead_letters = client.latest(cfg["DLQ_SCHEMA_SUBJECT"])
    assert dead_letters is not None
    assert json.loads(dead_letters.schema) == json.loads(DEAD_LETTER_SCHEMA_PATH.read_text())
    assert client.compatibility(cfg["DLQ_SCHEMA_SUBJECT"]) == "BACKWARD"


def test_upgrade_adds_the_marker_variant_to_the_previous_event_schema(client):
    """A subject holding the event-only schema takes the marker variant, and nothing looser."""
    subject = f"smoke-{uuid.uuid4().hex[:8]}-value"
    current = json.loads(EVENT_SCHEMA_PATH.read_text())
    previous = {k: v for k, v in current.items() if k not in ("if", "then", "else")}
    previous["properties"] = {k: v for k, v in current["properties"].items() if k != "marker"}
    previous["required"] = current["else"]["required"]
    ensure_subject(client, subject, json.dumps(previous))
    # Markers plus a stricter event (click may only be 0): no free pass past the compatibility rule.
    stricter = {**current, "properties": {**current["properties"], "click": {"type": "integer", "enum": [0]}}}
    with pytest.raises(Exception, match="409|ncompatib"):
        ensure_subject(client, subject, json.dumps(stricter))
    upgraded = ensure_subject(client, subject, json.dumps(current))
    assert upgraded["schema"] == "registered" and upgraded["version"] == 2
    assert client.compatibility(subject) == "BACKWARD"


def test_register_and_fetch_by_id(client):
    subject = f"smoke-{uuid.uuid4().hex[:8]}-value"
    schema = json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    first = ensure_subject(client, subject, schema)
    again = ensure_subject(client, subject, schema)
    assert first["schema"] == "registered"
    assert again == {**first, "schema": "unchanged", "compatibility": "unchanged"}
    assert json.loads(client.schema_by_id(first["schema_id"])) == json.loads(schema)


def test_backward_incompatible_change_is_rejected(client):
    subject = f"smoke-{uuid.uuid4().hex[:8]}-value"
    v1 = {"type": "object", "properties": {"n": {"type": "integer"}}, "additionalProperties": False}
    ensure_subject(client, subject, json.dumps(v1))
    # A new required field breaks BACKWARD: old records lack it.
    v2 = {**v1, "properties": {"n": {"type": "integer"}, "m": {"type": "string"}}, "required": ["m"]}
    with pytest.raises(Exception, match="409|ncompatib"):
        client.register(subject, json.dumps(v2))
