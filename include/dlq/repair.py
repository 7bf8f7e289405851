"""Repair rules of the DLQ retry: small, safe, documented rewrites of a dead letter's payload.

A rule only rewrites a value into the form its producer evidently meant: it never invents a value,
never drops one, and never touches a value that is already well-formed, so a valid payload comes out
byte-identical. After the rules, the retry runs the producer's own parsing and schema validation
(``include.ingest``): a rule cannot make an invalid event pass.

Rules (name: what it does, where):

- ``strip_bom``: drop a leading UTF-8 byte-order mark and a trailing carriage return (CSV line).
- ``unquote``: remove one pair of double quotes around a CSV field (``"ecad2386"``).
- ``trim``: strip surrounding whitespace from every CSV field and every JSON string value.
- ``int_format``: an integer field written as ``" 1 "``, ``"+1"``, ``"1.0"``, ``"1,0"`` or ``"1,00"``
  (a decimal point or comma followed by one or two zeros, or any number of zeros after a point),
  or as the JSON number ``1.0``, becomes ``1``. ``"1,000"`` is left alone: a thousands separator or
  a decimal comma, nobody can tell.
- ``number_format``: a money field (``cost``, ``revenue``) given as text (``"0.05"``, ``" 0,05 "``:
  one decimal comma) becomes a JSON number; ``"1,000"``-like text is left alone for the same reason.
- ``lowercase_hex``: the hashed id columns (``site_id`` .. ``device_model``) in upper-case hex become
  lower case (Avazu's hashes are lower-case hex).
- ``id_as_text``: ``event_id``, ``hour``, ``campaign_id``, ``creative_id`` given as JSON integers
  become their decimal text (the schema keeps them as text: ids exceed BIGINT).
- ``trim_nbsp``: a CSV field padded with Latin-1 no-break spaces (the single byte ``0xA0``, not
  UTF-8: what a spreadsheet saving as Latin-1 adds) loses them. Only possible because a dead letter
  keeps its exact bytes (``raw_payload_b64``): the retry sees the payload as text whose bytes that
  are not UTF-8 are surrogate escapes (``errors="surrogateescape"``), never U+FFFD.

Bytes that are still not UTF-8 after the rules become U+FFFD in the returned line, so the attempt
reports the row as invalid UTF-8 instead of guessing at them.

Each applied rule is reported as ``rule:field`` and stored in ``errors.retry_history.repairs``.
"""

from __future__ import annotations

import re
from typing import Any

from include.ingest.avazu_reader import AVAZU_COLUMNS, HEX_COLUMNS, INT_COLUMNS

HEX_FIELDS: frozenset[str] = frozenset(HEX_COLUMNS)
EVENT_INT_FIELDS: frozenset[str] = frozenset({*INT_COLUMNS, "event_time", "conversion"})
MONEY_FIELDS: frozenset[str] = frozenset({"cost", "revenue"})
TEXT_ID_FIELDS: frozenset[str] = frozenset({"event_id", "hour", "campaign_id", "creative_id"})
_CSV_INT = frozenset(INT_COLUMNS)

_INT_TEXT = re.compile(r"^([+-]?)(\d+)(?:\.0+|,00?)?$")
_UPPER_HEX = re.compile(r"^[0-9A-Fa-f]{8}$")
_MONEY_TEXT = re.compile(r"^\+?(\d+)(?:([.,])(\d+))?$")
_BOM = "\ufeff"
_NBSP_BYTE = "\udca0"  # byte 0xA0 seen through errors="surrogateescape"
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def normalize_int(value: Any) -> int | None:
    """The integer an integer field's value evidently means, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        match = _INT_TEXT.match(value.strip())
        if match:
            sign, digits = match.group(1), match.group(2)
            return -int(digits) if sign == "-" else int(digits)
    return None


def normalize_number(value: Any) -> float | None:
    """A money value given as text (``"0.05"``, ``"0,05"``) as a number; None when ambiguous or not one."""
    if not isinstance(value, str):
        return None
    match = _MONEY_TEXT.match(value.strip())
    if not match:
        return None
    whole, sep, frac = match.groups()
    if sep == "," and len(frac) == 3:
        return None  # "1,000": thousands separator or decimal comma?
    return float(f"{whole}.{frac}" if sep else whole)


def _int_text(text: str) -> str | None:
    """Canonical decimal text of an integer written in a repairable form (None: leave it)."""
    number = normalize_int(text)
    return None if number is None else str(number)


def repair_csv_line(line: str) -> tuple[str, list[str]]:
    """Apply the CSV rules to one Avazu data line; returns the line and the ``rule:field`` applied.

    A line with the wrong number of columns is only stripped (BOM / CR): which column is missing or
    extra cannot be known, so the row stays a parsing error.
    """
    repairs: list[str] = []
    if line.startswith(_BOM):
        line = line[1:]
        repairs.append("strip_bom:line")
    if line.endswith("\r"):
        line = line.rstrip("\r")
        repairs.append("strip_bom:line")
    fields = line.split(",")
    if len(fields) != len(AVAZU_COLUMNS):
        return _NOT_UTF8.sub("\ufffd", line), sorted(set(repairs))
    out = []
    for name, value in zip(AVAZU_COLUMNS, fields, strict=True):
        new = value
        if _NBSP_BYTE in new and new.strip(" \t" + _NBSP_BYTE) != new.strip(" \t"):
            new = new.strip(" \t" + _NBSP_BYTE)
            repairs.append(f"trim_nbsp:{name}")
        if new.strip() != new:
            new = new.strip()
            repairs.append(f"trim:{name}")
        if len(new) >= 2 and new[0] == new[-1] == '"':
            new = new[1:-1].strip()
            repairs.append(f"unquote:{name}")
        if name in _CSV_INT or name in ("id", "hour"):
            canonical = _int_text(new)
            if (
                canonical is not None
                and canonical != new
                and not (name in ("id", "hour") and new.startswith("-"))
            ):
                if name == "hour":
                    canonical = canonical.zfill(8)
                new = canonical
                repairs.append(f"int_format:{name}")
        elif name in HEX_FIELDS and _UPPER_HEX.match(new) and new != new.lower():
            new = new.lower()
            repairs.append(f"lowercase_hex:{name}")
        out.append(new)
    return _NOT_UTF8.sub("\ufffd", ",".join(out)), sorted(set(repairs))


def repair_event(event: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Apply the JSON rules to an event object (a copy is returned, key order kept)."""
    repairs: list[str] = []
    out: dict[str, Any] = {}
    for key, value in event.items():
        new = value
        if isinstance(new, str) and new.strip() != new:
            new = new.strip()
            repairs.append(f"trim:{key}")
        if key in EVENT_INT_FIELDS and not (isinstance(new, int) and not isinstance(new, bool)):
            number = normalize_int(new)
            if number is not None:
                new = number
                repairs.append(f"int_format:{key}")
        elif key in MONEY_FIELDS and isinstance(new, str):
            number = normalize_number(new)
            if number is not None:
                new = number
                repairs.append(f"number_format:{key}")
        elif key in TEXT_ID_FIELDS and isinstance(new, int) and not isinstance(new, bool) and new >= 0:
            new = str(new).zfill(8) if key == "hour" else str(new)
            repairs.append(f"id_as_text:{key}")
        elif key in HEX_FIELDS and isinstance(new, str) and _UPPER_HEX.match(new) and new != new.lower():
            new = new.lower()
            repairs.append(f"lowercase_hex:{key}")
        out[key] = new
    return out, sorted(set(repairs))
