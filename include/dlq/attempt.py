"""One retry attempt of one dead letter: repair rules, then the producer's parsing and validation.

The payload is an Avazu CSV line (dead letters of the replay producer) or a JSON event (dead
letters of Flink and of live producers): JSON when it starts with ``{``. A CSV line becomes an event
exactly as the replay would have built it (``include.ingest``: ``parse_row`` -> ``to_event`` with the
price model -> ``check_event``); a JSON event goes through ``encode_live_event`` (economics filled
only where missing, then validated), the path of live producers. Deterministic: the same payload,
schema and price model always give the same outcome and the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from include.dlq.repair import repair_csv_line, repair_event
from include.ingest.avazu_reader import parse_row
from include.ingest.economics import PriceModel
from include.ingest.event_time import hour_start_ms
from include.ingest.events import (
    DEFAULT_SOURCE,
    Validator,
    check_event,
    encode_live_event,
    serialize,
    to_event,
)
from include.ingest.records import RowError


@dataclass(frozen=True)
class Repaired:
    """A payload that now is a valid event: ``key`` / ``value`` are what the producer would publish."""

    event_id: str
    key: bytes
    value: bytes
    repairs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StillBad:
    """A payload that is still invalid after the repair rules."""

    error_type: str  # parsing | schema
    message: str
    event_id: str | None = None
    repairs: list[str] = field(default_factory=list)


def attempt(
    raw_payload: str,
    validator: Validator,
    model: PriceModel,
    *,
    event_time_ms: int | None = None,
    source: str = DEFAULT_SOURCE,
) -> Repaired | StillBad:
    """Repair and validate one payload. ``event_time_ms``: the CSV row's replay event time when known
    (header ``event_time`` of producer dead letters), else the start of the row's hour."""
    if raw_payload.lstrip().startswith("{"):
        return _attempt_json(raw_payload, validator, model)
    return _attempt_csv(raw_payload, validator, model, event_time_ms, source)


def _attempt_csv(
    line: str, validator: Validator, model: PriceModel, event_time_ms: int | None, source: str
) -> Repaired | StillBad:
    repaired, repairs = repair_csv_line(line)
    if "\ufffd" in repaired:
        # The DLQ record holds the original bytes decoded with replacement: invalid UTF-8 stays invalid.
        return StillBad("parsing", "invalid UTF-8 in the original row", _csv_id(repaired), repairs)
    raw = repaired.encode("utf-8")
    row = parse_row(0, raw)
    if isinstance(row, RowError):
        return StillBad(row.error_type, row.message, row.event_id or _csv_id(repaired), repairs)
    if event_time_ms is None:
        try:
            event_time_ms = hour_start_ms(row.values[2])
        except ValueError as exc:
            return StillBad("parsing", f"column hour: {exc}", row.values[0], repairs)
    row.event_time = event_time_ms
    event = to_event(row, model, source)
    error = check_event(validator, event, raw)
    if error is not None:
        return StillBad("schema", error.message, event["event_id"], repairs)
    return Repaired(event["event_id"], event["event_id"].encode(), serialize(event), repairs)


def _attempt_json(text: str, validator: Validator, model: PriceModel) -> Repaired | StillBad:
    try:
        event = json.loads(text)
    except ValueError as exc:
        return StillBad("parsing", f"not JSON: {exc}")
    if not isinstance(event, dict):
        return StillBad("parsing", f"not a JSON object but {type(event).__name__}")
    event, repairs = repair_event(event)
    raw = text.encode("utf-8", errors="replace")
    event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
    if any(event.get(k) is None for k in ("cost", "conversion", "revenue")):
        # A live event without (all) economics: the producer's path (encode_live_event) fills them.
        encoded = encode_live_event(event, raw, validator, model)
        if isinstance(encoded, RowError):
            return StillBad(encoded.error_type, encoded.message, event_id, repairs)
        event, value = encoded
    else:
        # Complete economics (e.g. a producer event Flink dead-lettered): kept as they are.
        error = check_event(validator, event, raw)
        if error is not None:
            return StillBad(error.error_type, error.message, event_id, repairs)
        value = serialize(event)
    return Repaired(event["event_id"], event["event_id"].encode(), value, repairs)


def _csv_id(line: str) -> str | None:
    first = line.split(",", 1)[0].strip()
    return first if first.isascii() and first.isdigit() and len(first) <= 20 else None
