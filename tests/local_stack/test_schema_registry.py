"""The schema registry: the event schema is registered by the bootstrap, and the API round-trips."""

from __future__ import annotations

import json
import uuid

import pytest

from include.schema_registry import EVENT_SCHEMA_PATH, SchemaRegistryClient, ensure_subject

pytestmark = pytest.mark.integration


@pytest.fixture
def client(cfg):
    return SchemaRegistryClient(cfg["SCHEMA_REGISTRY_URL"])


def test_event_schema_registered_with_backward_compatibility(bootstrapped, client, cfg):
    latest = client.latest(cfg["SCHEMA_SUBJECT"])
    assert latest is not None
    assert json.loads(latest.schema) == json.loads(EVENT_SCHEMA_PATH.read_text())
    assert client.compatibility(cfg["SCHEMA_SUBJECT"]) == "BACKWARD"


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
