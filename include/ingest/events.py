"""Avazu rows -> event dicts of ``ad_event.schema.json`` -> compact JSON bytes; and dead-letter records.

Validation uses a validator compiled once by fastjsonschema (generated Python, far faster than
interpreting the schema per event) and reports failures as RowError values: the producer dead-letters
them and carries on.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

import fastjsonschema
import orjson

from include.ingest.avazu_reader import COL
from include.ingest.economics import PriceModel
from include.ingest.end_of_input import MARKER_PROPERTY
from include.ingest.records import AvazuRow, ErrorType, RowError

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "ad_event.schema.json"
ERROR_TYPES: frozenset[str] = frozenset(get_args(ErrorType))
DLQ_SOURCES: frozenset[str] = frozenset({"producer", "flink", "dlq_retry"})
DEFAULT_SOURCE = "avazu_replay"

Validator = Callable[[dict[str, Any]], tuple[str, str | None] | None]
DlqSource = Literal["producer", "flink", "dlq_retry"]

(
    _ID,
    _CLICK,
    _HOUR,
    _C1,
    _BANNER,
    _SITE_ID,
    _SITE_DOMAIN,
    _SITE_CAT,
    _APP_ID,
    _APP_DOMAIN,
    _APP_CAT,
    _DEVICE_ID,
    _DEVICE_IP,
    _DEVICE_MODEL,
    _DEVICE_TYPE,
    _CONN,
    _C14,
    _C15,
    _C16,
    _C17,
    _C18,
    _C19,
    _C20,
    _C21,
) = range(len(COL))


_INT32 = {"minimum": -(2**31), "maximum": 2**31 - 1}
# Bounds of the columns that store an event, where the registered schema sets none: PostgreSQL
# ``integer`` (int32) columns, the last millisecond of ``timestamptz`` and NUMERIC(18,6) money. They
# live here, not in the registered schema, because adding a maximum to a registered schema is not a
# backward-compatible change; every validator of an event (producer, DLQ retry, reference ETL path)
# applies them, so an out-of-range value is dead-lettered for its row instead of failing a whole day
# downstream.
STORAGE_BOUNDS: dict[str, dict[str, int]] = {
    **{name: _INT32 for name in ("C1", "banner_pos", "device_type", "device_conn_type")},
    **{f"C{n}": _INT32 for n in range(14, 22)},
    "event_time": {"maximum": 253_402_300_799_999},  # 9999-12-31T23:59:59.999Z
    "cost": {"exclusiveMaximum": 10**12},
    "revenue": {"exclusiveMaximum": 10**12},
}


def load_schema(path: str | os.PathLike[str] = SCHEMA_PATH) -> dict[str, Any]:
    """The event JSON Schema (the same file the bootstrap registers in the schema registry)."""
    return json.loads(Path(path).read_text())


_MARKER_CONDITION = {"required": [MARKER_PROPERTY]}
_BRANCH_ANNOTATIONS = frozenset({"title", "description", "$comment"})


def event_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The event variant of a record schema: what a record without ``marker`` must satisfy.

    The registered schema describes every record of the raw topic, events and markers (``if`` the
    record has ``marker`` ``then`` the marker's rules, ``else`` the event's). Everything that
    validates an *event* (producer, DLQ retry, batch) wants the ``else`` branch merged into the
    top level: for a record without ``marker`` it accepts exactly what the whole schema accepts,
    yet it is a plain object schema, so the producer's column checks keep their fast path, and
    ``marker`` leaves the properties, so an event carrying one is a schema error instead of a
    marker in disguise. A schema of any other shape (an older registered version) is returned
    unchanged.
    """
    if schema.get("if") != _MARKER_CONDITION or not isinstance(schema.get("else"), dict):
        return schema
    branch = schema["else"]
    if set(branch) - {"required"} - _BRANCH_ANNOTATIONS:
        return schema
    out = {k: v for k, v in schema.items() if k not in ("if", "then", "else")}
    out["required"] = [*schema.get("required", []), *branch.get("required", [])]
    out["properties"] = {k: v for k, v in (schema.get("properties") or {}).items() if k != MARKER_PROPERTY}
    return out


def with_storage_bounds(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` whose properties also carry :data:`STORAGE_BOUNDS` (the tighter bound wins).

    Only for validating: the schema registered in the registry stays as the file has it.
    """
    properties = dict(schema.get("properties") or {})
    for name, bounds in STORAGE_BOUNDS.items():
        definition = properties.get(name)
        if not isinstance(definition, dict):
            continue
        merged = dict(definition)
        for keyword, limit in bounds.items():
            low = keyword in ("minimum", "exclusiveMinimum")
            current = merged.get(keyword)
            if not isinstance(current, int | float) or (limit > current if low else limit < current):
                merged[keyword] = limit
        properties[name] = merged
    return {**schema, "properties": properties} if "properties" in schema else dict(schema)


def compile_validator(schema: dict[str, Any]) -> Validator:
    """Compile the event variant of ``schema`` (:func:`event_schema`) once; the returned function gives None or ``(message, field)`` per event.

    Messages name the field ("click must be one of [0, 1]"), with fastjsonschema's ``data`` root
    renamed to ``event``.
    """
    schema = event_schema(schema)
    validate = fastjsonschema.compile(with_storage_bounds(schema))
    invalid = fastjsonschema.JsonSchemaValueException
    known = set(schema.get("properties", {}))

    def check(event: dict[str, Any]) -> tuple[str, str | None] | None:
        try:
            validate(event)
        except invalid as exc:
            path = exc.path or []
            field = str(path[1]) if len(path) > 1 else _root_field(exc, event, known)
            message = exc.message
            if message.startswith("data."):
                message = message[5:]
            elif message.startswith("data "):
                message = "event " + message[5:]
            return message, field
        return None

    return check


def _root_field(exc: Any, event: Any, known: set[str]) -> str | None:
    """The field behind an object-level failure (a missing required key, an unexpected extra one)."""
    if not isinstance(event, dict):
        return None
    if exc.rule == "required":
        return next((k for k in exc.rule_definition if k not in event), None)
    if exc.rule == "additionalProperties":
        return next((str(k) for k in event if k not in known), None)
    return None


def to_event(row: AvazuRow, model: PriceModel, source: str = DEFAULT_SOURCE) -> dict[str, Any]:
    """The event of one parsed row, economics derived by ``model`` (Avazu rows never carry money)."""
    v = row.values
    event_id = v[_ID]
    cost, conversion, revenue = model.derive(
        event_id, v[_CLICK], v[_DEVICE_TYPE], v[_BANNER], v[_APP_ID], v[_SITE_CAT], v[_APP_CAT]
    )
    return {
        "event_id": event_id,
        "click": v[_CLICK],
        "event_time": row.event_time,
        "hour": v[_HOUR],
        "C1": v[_C1],
        "banner_pos": v[_BANNER],
        "site_id": v[_SITE_ID],
        "site_domain": v[_SITE_DOMAIN],
        "site_category": v[_SITE_CAT],
        "app_id": v[_APP_ID],
        "app_domain": v[_APP_DOMAIN],
        "app_category": v[_APP_CAT],
        "device_id": v[_DEVICE_ID],
        "device_ip": v[_DEVICE_IP],
        "device_model": v[_DEVICE_MODEL],
        "device_type": v[_DEVICE_TYPE],
        "device_conn_type": v[_CONN],
        "C14": v[_C14],
        "C15": v[_C15],
        "C16": v[_C16],
        "C17": v[_C17],
        "C18": v[_C18],
        "C19": v[_C19],
        "C20": v[_C20],
        "C21": v[_C21],
        "campaign_id": str(v[_C17]),
        "creative_id": str(v[_C14]),
        "cost": cost,
        "conversion": conversion,
        "revenue": revenue,
        "price_model_version": model.version,
        "source": source,
    }


def serialize(event: dict[str, Any]) -> bytes:
    """Compact JSON (orjson: no spaces, UTF-8), the Kafka record value."""
    return orjson.dumps(event)


def check_event(
    validator: Validator, event: dict[str, Any], raw: bytes, line_no: int | None = None
) -> RowError | None:
    """None when ``event`` is valid, else a ``schema`` RowError carrying the original ``raw`` bytes."""
    problem = validator(event)
    if problem is None:
        return None
    message, field = problem
    event_id = event.get("event_id")
    return RowError(
        "schema",
        message,
        raw,
        line_no,
        event_id if isinstance(event_id, str) else None,
        event.get("event_time") if isinstance(event.get("event_time"), int) else None,
        field,
    )


def encode_row(
    row: AvazuRow | RowError, validator: Validator, model: PriceModel, source: str = DEFAULT_SOURCE
) -> tuple[dict[str, Any], bytes] | RowError:
    """A reader item to ``(event, json_bytes)`` or to the RowError to dead-letter; never raises."""
    if isinstance(row, RowError):
        return row
    event = to_event(row, model, source)
    error = check_event(validator, event, row.raw, row.line_no)
    if error is not None:
        return error
    try:
        return event, orjson.dumps(event)
    except orjson.JSONEncodeError as exc:  # beyond 64 bits, with a schema that sets no maximum
        return RowError("schema", f"a value is out of range: {exc}", row.raw, row.line_no, event["event_id"])


def encode_live_event(
    event: dict[str, Any], raw: bytes, validator: Validator, model: PriceModel
) -> tuple[dict[str, Any], bytes] | RowError:
    """A producer-supplied event: economics filled only where missing, then validated and serialized."""
    model.fill(event)
    error = check_event(validator, event, raw)
    if error is not None:
        return error
    return event, orjson.dumps(event)


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z`` (the form Flink's JSON format and PostgreSQL accept)."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def dead_letter(
    raw_payload: bytes | str,
    error_type: ErrorType,
    error_message: str,
    *,
    source: DlqSource,
    stacktrace: str | None = None,
    retry_count: int = 0,
    error_timestamp: datetime | None = None,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    event_id: str | None = None,
    raw_ref: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A DLQ record. Every key is always present (None when unknown) so consumers see one shape.

    The fields, and how the original bytes are kept exactly: docs/design.md "Dead-letter contract".
    """
    if error_type not in ERROR_TYPES:
        raise ValueError(f"error_type must be one of {sorted(ERROR_TYPES)}, got {error_type!r}")
    if source not in DLQ_SOURCES:
        raise ValueError(f"source must be one of {sorted(DLQ_SOURCES)}, got {source!r}")
    if retry_count < 0:
        raise ValueError(f"retry_count must be >= 0, got {retry_count}")
    if isinstance(raw_payload, str):
        try:
            raw_payload = raw_payload.encode("utf-8", errors="surrogateescape")
        except UnicodeEncodeError:
            raw_payload = raw_payload.encode("utf-8", errors="replace")
    text, exact_b64 = payload_fields(raw_payload)
    return {
        "raw_payload": text,
        "raw_payload_b64": exact_b64,
        "raw_ref": raw_ref,
        "error_type": error_type,
        "error_message": error_message,
        "stacktrace": stacktrace,
        "retry_count": retry_count,
        "error_timestamp": utc_timestamp(error_timestamp),
        "source": source,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "event_id": event_id,
    }


def dead_letter_for(error: RowError, *, source: DlqSource = "producer", **known: Any) -> dict[str, Any]:
    """The DLQ record of a RowError (its raw bytes, type, message and event id)."""
    known.setdefault("event_id", error.event_id)
    known.setdefault("raw_ref", error.raw_ref)
    return dead_letter(error.raw, error.error_type, error.message, source=source, **known)


def payload_fields(raw: bytes) -> tuple[str, str | None]:
    """``raw_payload`` and ``raw_payload_b64`` of these bytes.

    Valid UTF-8 without NUL is kept as text alone. Anything else gets a readable text (invalid bytes
    and NUL as U+FFFD: PostgreSQL text cannot hold NUL) plus the exact bytes in base64.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
        return text, base64.b64encode(raw).decode("ascii")
    if "\x00" in text:
        return text.replace("\x00", "\ufffd"), base64.b64encode(raw).decode("ascii")
    return text, None


def truncate_dead_letter(
    record: dict[str, Any], payload_dir: str | os.PathLike[str] | None
) -> dict[str, Any]:
    """``record`` with its payload cut to a prefix, the full bytes in ``payload_dir/<sha256>``.

    For a dead letter bigger than a Kafka record may be: it must still reach the DLQ, and the DLQ
    retry can still read every byte (:func:`original_payload`).
    """
    raw = original_bytes(record)
    digest = hashlib.sha256(raw).hexdigest()
    path = None
    if payload_dir is not None:
        directory = Path(payload_dir)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / digest
        if not target.exists():
            tmp = directory / f".partial-{os.getpid()}-{digest[:16]}"
            tmp.write_bytes(raw)
            os.replace(tmp, target)
        path = str(target)
    prefix = raw[:1024]
    text, exact_b64 = payload_fields(prefix)
    message = str(record.get("error_message") or "")[:2000]
    return {
        **record,
        "raw_payload": text,
        "raw_payload_b64": exact_b64,
        "raw_ref": {"bytes": len(raw), "sha256": digest, "path": path},
        "error_message": message,
        "stacktrace": None,
    }


def original_bytes(record: dict[str, Any]) -> bytes:
    """The exact bytes a dead letter stands for, as far as the record itself holds them."""
    exact = record.get("raw_payload_b64")
    if isinstance(exact, str):
        try:
            return base64.b64decode(exact, validate=True)
        except ValueError:
            pass
    text = record.get("raw_payload")
    return text.encode("utf-8", errors="surrogateescape") if isinstance(text, str) else b""


def original_payload(record: dict[str, Any], max_bytes: int = 16 << 20) -> str:
    """A dead letter's original bytes as text for the DLQ retry: exact, never U+FFFD-replaced.

    Bytes that are not UTF-8 come back as surrogate escapes (``bytes.decode(errors="surrogateescape")``),
    so the repair rules see what the file held. A payload kept in a file (``raw_ref``) is read when its
    SHA-256 matches and it is at most ``max_bytes``; else the record's prefix is what there is.
    """
    raw = original_bytes(record)
    ref = record.get("raw_ref")
    if isinstance(ref, dict) and isinstance(ref.get("path"), str) and isinstance(ref.get("bytes"), int):
        path = Path(ref["path"])
        try:
            if ref["bytes"] <= max_bytes and path.stat().st_size == ref["bytes"]:
                full = path.read_bytes()
                if hashlib.sha256(full).hexdigest() == ref.get("sha256"):
                    raw = full
        except OSError:
            pass
    return raw.decode("utf-8", errors="surrogateescape")
