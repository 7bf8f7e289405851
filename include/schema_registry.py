"""A small client for the Confluent-compatible schema registry REST API (Apicurio's ccompat v7,
Confluent Schema Registry, Karapace...). Imports nothing from Airflow."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests

EVENT_SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "ad_event.schema.json"
_CONTENT_TYPE = {"Content-Type": "application/vnd.schemaregistry.v1+json"}


class SchemaRegistryError(RuntimeError):
    """The registry answered with an error (the message carries its status and body)."""


@dataclass(frozen=True)
class RegisteredSchema:
    subject: str
    id: int
    version: int
    schema: str


class SchemaRegistryClient:
    """``base_url`` is the API root, e.g. ``http://127.0.0.1:8085/apis/ccompat/v7``."""

    def __init__(self, base_url: str, timeout: float = 10.0, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()

    def _call(self, method: str, path: str, body: dict | None = None, ok404: bool = False) -> object:
        url = f"{self.base_url}{path}"
        resp = self.session.request(
            method, url, data=json.dumps(body) if body else None, headers=_CONTENT_TYPE, timeout=self.timeout
        )
        if ok404 and resp.status_code == 404:
            return None
        if resp.status_code >= 400:
            raise SchemaRegistryError(f"{method} {url} -> {resp.status_code}: {resp.text[:300]}")
        return resp.json() if resp.content else None

    def subjects(self) -> list[str]:
        return list(self._call("GET", "/subjects") or [])  # type: ignore[arg-type]

    def lookup(self, subject: str, schema: str, schema_type: str = "JSON") -> RegisteredSchema | None:
        """The registered version of exactly this schema under ``subject``, or None."""
        body = {"schema": schema, "schemaType": schema_type}
        found = self._call("POST", f"/subjects/{quote(subject, safe='')}", body, ok404=True)
        if not found:
            return None
        assert isinstance(found, dict)
        return RegisteredSchema(subject, int(found["id"]), int(found["version"]), found.get("schema", schema))

    def register(self, subject: str, schema: str, schema_type: str = "JSON") -> int:
        """Registers ``schema`` (a no-op returning the same id when it is already registered)."""
        body = {"schema": schema, "schemaType": schema_type}
        result = self._call("POST", f"/subjects/{quote(subject, safe='')}/versions", body)
        assert isinstance(result, dict)
        return int(result["id"])

    def latest(self, subject: str) -> RegisteredSchema | None:
        found = self._call("GET", f"/subjects/{quote(subject, safe='')}/versions/latest", ok404=True)
        if not found:
            return None
        assert isinstance(found, dict)
        return RegisteredSchema(subject, int(found["id"]), int(found["version"]), found["schema"])

    def schema_by_id(self, schema_id: int) -> str:
        found = self._call("GET", f"/schemas/ids/{schema_id}")
        assert isinstance(found, dict)
        return str(found["schema"])

    def compatibility(self, subject: str) -> str | None:
        found = self._call("GET", f"/config/{quote(subject, safe='')}", ok404=True)
        if not isinstance(found, dict):
            return None
        return found.get("compatibilityLevel") or found.get("compatibility")

    def set_compatibility(self, subject: str, level: str) -> None:
        self._call("PUT", f"/config/{quote(subject, safe='')}", {"compatibility": level})


def ensure_subject(
    client: SchemaRegistryClient, subject: str, schema: str, compatibility: str = "BACKWARD"
) -> dict[str, object]:
    """Registers ``schema`` under ``subject`` with the given compatibility; idempotent.

    Returns what it found or did: ``{"schema_id", "version", "schema": "registered"|"unchanged",
    "compatibility": "set"|"unchanged"}``.
    """
    outcome: dict[str, object] = {}
    if client.compatibility(subject) == compatibility:
        outcome["compatibility"] = "unchanged"
    else:
        client.set_compatibility(subject, compatibility)
        outcome["compatibility"] = "set"
    existing = client.lookup(subject, schema)
    if existing:
        outcome.update(schema="unchanged", schema_id=existing.id, version=existing.version)
    else:
        client.register(subject, schema)
        registered = client.lookup(subject, schema)
        if registered is None:
            raise SchemaRegistryError(f"{subject}: registered, but the registry cannot find it again")
        outcome.update(schema="registered", schema_id=registered.id, version=registered.version)
    return outcome
