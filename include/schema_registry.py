"""The schema registry: confluent-kafka's client, and the little our callers need on top of it.

Our Apicurio registry serves the Confluent-compatible API under ``/apis/ccompat/v7``, which is what
``confluent_kafka.schema_registry.SchemaRegistryClient`` speaks; HTTP, retries with backoff, TLS,
auth and caching are its job. What is ours, and why:

- :class:`SchemaRegistryClient` answers ``None`` where confluent-kafka raises a 404 ("subject not
  found", "no compatibility set"): for the idempotent bootstrap (:func:`ensure_subject`) and for the
  producer's "run dag_platform_bootstrap" message, absent is a normal answer, not an error. It also
  takes and returns schemas as JSON text, which is what every caller holds (the schema file, the
  validators compiled from it), instead of ``Schema`` objects.
- :func:`fetch_schema` turns every failure into one of our one-line :class:`RegistryError` s, so
  the producer and the DLQ retry report it without an HTTP library's traceback.

Importing this module costs ~0.7 s (confluent_kafka.schema_registry pulls in authlib and httpx;
measured with ``python -X importtime``), so callers import it inside the function that needs it.
No Airflow imports.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka import schema_registry as confluent

# The HTTP library confluent-kafka's client runs on (httpx2, else httpx): its transport errors mean
# "no answer" (refused, reset, timed out), as opposed to an error the registry answered with.
from confluent_kafka.schema_registry.common._httpx_compat import httpx
from confluent_kafka.schema_registry.error import SchemaRegistryError

from include import config

EVENT_SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "ad_event.schema.json"
DEAD_LETTER_SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "dead_letter.schema.json"
_T = TypeVar("_T")


class RegistryError(Exception):
    """The registry cannot give what the caller needs; ``str()`` is one line a person can act on."""


class RegistryUnreachable(RegistryError):
    """No answer from the registry (after the client's own retries)."""


class SchemaNotRegistered(RegistryError):
    """The registry answered, but nothing is registered under the subject."""


@dataclass(frozen=True)
class SubjectSchema:
    """A schema as registered under a subject; ``schema`` is its JSON text."""

    subject: str
    id: int
    version: int
    schema: str


def registry_conf(
    url: str, timeout: float = 10.0, auth: tuple[str, str] | None = None, cfg: dict[str, str] | None = None
) -> dict[str, Any]:
    """confluent-kafka's registry client configuration: ``url``, ``timeout`` and HTTP basic auth,
    ``auth`` (user, password) or else SCHEMA_REGISTRY_USERNAME/PASSWORD (none when the user is empty)."""
    if auth is None:
        cfg = cfg if cfg is not None else config.resolve()
        auth = (cfg["SCHEMA_REGISTRY_USERNAME"], cfg["SCHEMA_REGISTRY_PASSWORD"])
    conf: dict[str, Any] = {"url": url, "timeout": timeout}
    if auth[0]:
        conf["basic.auth.user.info"] = f"{auth[0]}:{auth[1]}"
    return conf


class SchemaRegistryClient(confluent.SchemaRegistryClient):
    """confluent-kafka's client for the API root ``url``, e.g. ``http://127.0.0.1:8085/apis/ccompat/v7``."""

    def __init__(self, url: str, timeout: float = 10.0, auth: tuple[str, str] | None = None) -> None:
        super().__init__(registry_conf(url, timeout, auth))

    def latest(self, subject: str) -> SubjectSchema | None:
        found = _none_if_absent(lambda: self.get_latest_version(subject))
        if found is None:
            return None
        return SubjectSchema(subject, found.schema_id, found.version, found.schema.schema_str)

    def lookup(self, subject: str, schema: str) -> SubjectSchema | None:
        """The registered version of exactly this JSON schema under ``subject``, or None."""
        found = _none_if_absent(lambda: self.lookup_schema(subject, _json_schema(schema)))
        if found is None:
            return None
        return SubjectSchema(subject, found.schema_id, found.version, schema)

    def register(self, subject: str, schema: str) -> int:
        """Registers a JSON schema (the same id again when it is already registered)."""
        return self.register_schema(subject, _json_schema(schema))

    def schema_by_id(self, schema_id: int) -> str:
        return self.get_schema(schema_id).schema_str

    def compatibility(self, subject: str) -> str | None:
        """The subject's own compatibility level; None when it has none (the global one applies)."""
        return _none_if_absent(lambda: self.get_compatibility(subject))


def fetch_schema(registry_url: str, subject: str, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    """The latest schema registered under ``subject``: ``(id, parsed JSON)``. Raises :class:`RegistryError`."""
    try:
        client = SchemaRegistryClient(registry_url, timeout)
    except ValueError as exc:
        raise RegistryError(f"bad schema registry URL {registry_url!r}: {exc}") from None
    try:
        with client:
            registered = client.latest(subject)
    except httpx.TransportError as exc:
        raise RegistryUnreachable(
            f"schema registry unreachable at {registry_url} ({type(exc).__name__}); is the stack up (make status)?"
        ) from None
    except SchemaRegistryError as exc:
        raise RegistryError(f"schema registry error: {exc}") from None
    if registered is None:
        raise SchemaNotRegistered(
            f"no schema registered under subject {subject!r} at {registry_url}: run dag_platform_bootstrap"
        )
    try:
        schema = json.loads(registered.schema)
    except ValueError as exc:
        raise RegistryError(f"schema id {registered.id} under {subject!r} is not JSON: {exc}") from None
    return registered.id, schema


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
        try:
            client.register(subject, schema)
        except SchemaRegistryError as exc:
            latest = client.latest(subject)
            if exc.http_status_code != 409 or latest is None or not only_adds_markers(latest.schema, schema):
                raise
            _register_marker_variant(client, subject, schema, compatibility)
        # Registration answers with the id only; the lookup also gives the version.
        registered = client.lookup(subject, schema)
        if registered is None:
            raise RegistryError(f"{subject}: registered, but the registry cannot find it again")
        outcome.update(schema="registered", schema_id=registered.id, version=registered.version)
    return outcome


def only_adds_markers(registered: str, new: str) -> bool:
    """Whether ``new`` is ``registered`` plus the marker variant, and nothing else.

    Such a version accepts every record ``registered`` accepts (its event variant *is* the old
    schema) and the markers besides: backward compatible by construction. Apicurio's checker still
    refuses it, because it compares schemas syntactically and the root changes from an object
    schema to a conditional one ("Subschema type changed at /").
    """
    from include.ingest.events import MARKER_PROPERTY, event_schema

    old, candidate = json.loads(registered), json.loads(new)
    if "if" in old or "if" not in candidate or MARKER_PROPERTY not in candidate.get("properties", {}):
        return False
    variant = event_schema(candidate)
    if variant is candidate:
        return False
    return _without_annotations(variant) == _without_annotations(old)


def _without_annotations(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in ("title", "description", "$comment")}


def _register_marker_variant(
    client: SchemaRegistryClient, subject: str, schema: str, compatibility: str
) -> None:
    """Registers a version :func:`only_adds_markers` vouches for, with the subject's rule lifted for it."""
    client.set_compatibility(subject, "NONE")
    try:
        client.register(subject, schema)
    finally:
        client.set_compatibility(subject, compatibility)


def _json_schema(text: str) -> confluent.Schema:
    return confluent.Schema(text, schema_type="JSON")


def _none_if_absent(call: Callable[[], _T]) -> _T | None:
    try:
        return call()
    except SchemaRegistryError as exc:
        if exc.http_status_code == 404:
            return None
        raise
