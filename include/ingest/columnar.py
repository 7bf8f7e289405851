"""Columnar fast path of the producer: a block of Avazu lines -> ``(key, value)`` records or RowErrors.

Why it exists: the per-row reference path (``avazu_reader.parse_row`` -> ``events.to_event`` ->
``events.compile_validator``) costs ~15 µs a row, half of it in fastjsonschema's generated code and its
regexes; the ingest target (docs/design.md "Targets") needs well under 10 µs on a 2-core box shared
with the broker.
Here the same work is done a *column* at a time with C-level builtins (``map``, ``zip``, ``set``,
``min``, ``bytes.translate``, one regex per column over the joined values), so Python's per-row
interpreter overhead is paid a few times per row instead of a few hundred.

Never a shortcut on correctness:

- Parsing uses the reader's own fast-path rules (byte set ``[0-9a-f,-]``, 24 fields, ``int()`` only on
  such bytes, id <= 2**64-1, hour = the batch hour). A block with anything else goes, whole, through
  the reference path, so every error message is the reader's.
- :class:`ColumnValidator` is compiled from the *registered* schema. Its column checks are *sound*:
  they only pass a value the reference validator also passes. A row they cannot vouch for is checked
  by the reference validator, which decides and words the error. A schema keyword it does not know
  disables the fast checks entirely (every event then goes through the reference validator).
- Event dicts are built with exactly ``to_event``'s keys in ``to_event``'s order, and serialized by
  orjson like ``events.encode_row``; ``tests/include/ingest/test_producer_columnar.py`` compares both
  paths byte for byte on generated and real rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import methodcaller
from typing import Any

import fastjsonschema
import orjson

from include.ingest.avazu_reader import parse_row
from include.ingest.economics import PriceModel
from include.ingest.event_time import HOUR_MS
from include.ingest.events import (
    DEFAULT_SOURCE,
    Validator,
    check_event,
    compile_validator,
    encode_row,
    event_schema,
    with_storage_bounds,
)
from include.ingest.records import RowError

# The keys of ``events.to_event``, in its order (the JSON byte order depends on it).
EVENT_KEYS: tuple[str, ...] = (
    "event_id", "click", "event_time", "hour", "C1", "banner_pos", "site_id", "site_domain",
    "site_category", "app_id", "app_domain", "app_category", "device_id", "device_ip", "device_model",
    "device_type", "device_conn_type", "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21",
    "campaign_id", "creative_id", "cost", "conversion", "revenue", "price_model_version", "source",
)  # fmt: skip

Record = tuple[bytes, bytes]
"""``(key, value)``: the event id as bytes and the event's compact JSON."""

_FAST_BYTES = b"0123456789abcdef,-\n"
_NCOLS = 24
_INT_IDX = (1, 3, 4, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23)
_MAX_ID = "18446744073709551615"
_SPLIT = methodcaller("split", ",")
_ANNOTATIONS = frozenset(
    {"description", "title", "$comment", "examples", "default", "deprecated", "readOnly"}
)
_TOP_LEVEL = frozenset({"$schema", "$id", "type", "additionalProperties", "required", "properties"})
_PROPERTY_KEYWORDS = frozenset(
    {"type", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
    | {"minLength", "maxLength"}
)
_JSON_TYPES: dict[str, frozenset[type]] = {
    # Subsets of what fastjsonschema accepts (bool is not an int here, 3.0 is not an integer): sound.
    "string": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float}),
    "boolean": frozenset({bool}),
    "null": frozenset({type(None)}),
}
# bool counts as a number for bounds, like fastjsonschema's isinstance(value, (int, float)).
_NUMBERS = frozenset({int, float, bool})
_KNOWN_TYPES = frozenset({str, int, float, bool, type(None)})
# "^[class]{m,n}$" and friends: a string made only of class characters, of a length in range, matches
# the pattern under any regex dialect, so a whole column is checked with one regex over its join.
_ANCHORED_CLASS = re.compile(r"\^(\[[^\[\]\\]+\])(?:\{(\d+)(?:(,)(\d*))?\}|(\+)|(\*))?\$")


@dataclass(frozen=True, slots=True)
class _Property:
    """The fast checks of one property. ``column_ok`` vouches for a whole column, ``value_ok`` for one."""

    column_ok: Callable[[Sequence[Any]], bool]
    value_ok: Callable[[Any], bool]


class ColumnValidator:
    """Validates events a column at a time; the compiled reference validator has the last word.

    :param schema: the record JSON Schema as registered (a dict); events are checked against its
        event variant (:func:`~include.ingest.events.event_schema`).
    ``fast`` is False when the schema uses a keyword the column checks do not implement; then
    :meth:`suspects` names every row and the reference validator checks each one.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self.reference: Validator = compile_validator(schema)
        self._properties: dict[str, _Property] = {}
        self._required: frozenset[str] = frozenset()
        self._closed = False
        self.fast = self._compile(with_storage_bounds(event_schema(schema)))

    def _compile(self, schema: dict[str, Any]) -> bool:
        if set(schema) - _TOP_LEVEL - _ANNOTATIONS or schema.get("type", "object") != "object":
            return False
        additional = schema.get("additionalProperties", True)
        if not isinstance(additional, bool):
            return False
        self._closed = not additional
        self._required = frozenset(schema.get("required", ()))
        for name, definition in (schema.get("properties") or {}).items():
            prop = _compile_property(definition)
            if prop is None:
                return False
            self._properties[name] = prop
        return True

    def suspects(self, keys: Sequence[str], columns: Sequence[Sequence[Any]], n: int) -> list[int] | None:
        """Rows the column checks cannot vouch for (sorted), or None for "all of them".

        ``columns[j]`` holds key ``keys[j]`` of each of the ``n`` events; a column of length 1 is a
        constant shared by every event.
        """
        if not self.fast or not self._required <= set(keys):
            return None
        if self._closed and not set(keys) <= self._properties.keys():
            return None
        bad: set[int] = set()
        for key, column in zip(keys, columns, strict=True):
            prop = self._properties.get(key)
            if prop is None or prop.column_ok(column):
                continue
            if len(column) == 1 and n != 1:
                return None
            bad.update(i for i, value in enumerate(column) if not prop.value_ok(value))
        return sorted(bad)


def _compile_property(definition: Any) -> _Property | None:
    """Column and value checks for one property schema, or None when a keyword is not supported.

    A column's value types are computed once (``set(map(type, col))``); each keyword then runs one C-level
    pass (``set``, ``min``, ``max``, or a regex over the joined strings) over the values it applies to.
    """
    if not isinstance(definition, dict) or set(definition) - _PROPERTY_KEYWORDS - _ANNOTATIONS:
        return None
    allowed: frozenset[type] | None = None
    if "type" in definition:
        names = definition["type"] if isinstance(definition["type"], list) else [definition["type"]]
        if not all(isinstance(t, str) and t in _JSON_TYPES for t in names):
            return None
        allowed = frozenset().union(*(_JSON_TYPES[t] for t in names))
    choices = definition.get("enum")
    if choices is not None and (
        not isinstance(choices, list) or any(isinstance(c, list | dict) for c in choices)
    ):
        return None
    numeric = _numeric_bounds(definition)
    strings = _length_bounds(definition)
    if numeric is None or strings is None:
        return None
    if "pattern" in definition:
        pattern = _pattern_check(definition["pattern"])
        if pattern is None:
            return None
        strings.append(pattern)

    def column_ok(col: Sequence[Any]) -> bool:
        kinds = set(map(type, col))
        if not kinds <= _KNOWN_TYPES:
            return False
        if allowed is not None and not kinds <= allowed:
            return False
        if choices is not None and not _hashable_subset(col, choices):
            return False
        if numeric and kinds & _NUMBERS:
            nums = col if kinds <= _NUMBERS else [v for v in col if type(v) in _NUMBERS]
            if not all(check(nums) for check in numeric):
                return False
        if strings and str in kinds:
            texts = col if kinds == {str} else [v for v in col if type(v) is str]
            if not all(check(texts) for check in strings):
                return False
        return True

    return _Property(column_ok=column_ok, value_ok=lambda v: column_ok((v,)))


def _hashable_subset(col: Sequence[Any], choices: list[Any]) -> bool:
    """Every value is in ``choices`` with ``==`` semantics, like fastjsonschema's ``value in [...]``."""
    try:
        return set(col) <= set(choices)
    except TypeError:
        return all(value in choices for value in col)


def _numeric_bounds(definition: dict[str, Any]) -> list[Callable[[Sequence[Any]], bool]] | None:
    """Checks over a non-empty column of numbers. A NaN makes min()/max() order-dependent, but every
    comparison with NaN is False, so a NaN never passes a column the reference would reject."""
    checks: list[Callable[[Sequence[Any]], bool]] = []
    for keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if keyword not in definition:
            continue
        limit = definition[keyword]
        if isinstance(limit, bool) or not isinstance(limit, int | float):
            return None  # draft-04 boolean exclusive* is not supported: the reference decides.
        if keyword == "minimum":
            checks.append(lambda col, lim=limit: min(col) >= lim)
        elif keyword == "maximum":
            checks.append(lambda col, lim=limit: max(col) <= lim)
        elif keyword == "exclusiveMinimum":
            checks.append(lambda col, lim=limit: min(col) > lim)
        else:
            checks.append(lambda col, lim=limit: max(col) < lim)
    return checks


def _length_bounds(definition: dict[str, Any]) -> list[Callable[[Sequence[str]], bool]] | None:
    """Checks over a non-empty column of strings (lengths in code points, as JSON Schema counts)."""
    checks: list[Callable[[Sequence[str]], bool]] = []
    for keyword in ("minLength", "maxLength"):
        if keyword not in definition:
            continue
        limit = definition[keyword]
        if isinstance(limit, bool) or not isinstance(limit, int):
            return None
        if keyword == "minLength":
            checks.append(lambda col, lim=limit: min(map(len, col)) >= lim)
        else:
            checks.append(lambda col, lim=limit: max(map(len, col)) <= lim)
    return checks


def _pattern_check(pattern: Any) -> Callable[[Sequence[str]], bool] | None:
    """A column check for ``pattern``: one regex over the joined column for anchored character classes.

    Any other pattern is checked per value by fastjsonschema itself (exactly the reference semantics).
    """
    if not isinstance(pattern, str):
        return None
    match = _ANCHORED_CLASS.fullmatch(pattern)
    if match is None:
        reference = fastjsonschema.compile({"pattern": pattern})
        invalid = fastjsonschema.JsonSchemaValueException

        def each(col: Sequence[str]) -> bool:
            try:
                for value in col:
                    reference(value)
            except invalid:
                return False
            return True

        return each
    char_class, low, comma, high, plus, star = match.groups()
    if star:
        lo, hi = 0, None
    elif plus:
        lo, hi = 1, None
    elif low is None:
        lo, hi = 1, 1
    else:
        lo, hi = int(low), (int(low) if not comma else (int(high) if high else None))
    only_class = re.compile(f"{char_class}*")

    def anchored(col: Sequence[str]) -> bool:
        sizes = set(map(len, col))
        if min(sizes) < lo or (hi is not None and max(sizes) > hi):
            return False
        return only_class.fullmatch("".join(col)) is not None

    return anchored


def _parse_columns(text_lines: list[str], hour: str) -> list[Any] | None:
    """The 24 columns of lines that all take the reader's fast path, or None (then use the reference).

    The 13 integer columns are parsed by one ``orjson.loads`` of their joined text: JSON integers are a
    subset of what ``int()`` accepts here. Anything else (leading zeros, ``1e5``, a stray ``-``, an
    integer beyond 64 bits) sends the block to the reference path, which decides and names each row.
    """
    rows = list(map(_SPLIT, text_lines))
    if set(map(len, rows)) != {_NCOLS}:
        return None
    columns: list[Any] = list(zip(*rows, strict=True))
    ids = columns[0]
    if not (all(map(str.isdigit, ids)) and set(columns[2]) == {hour}):
        return None
    if max(map(len, ids)) >= 20 and any(len(i) > 20 or (len(i) == 20 and i > _MAX_ID) for i in ids):
        return None
    n = len(rows)
    try:
        ints = orjson.loads("[" + ",".join(chain.from_iterable(columns[j] for j in _INT_IDX)) + "]")
        if set(map(type, ints)) != {int}:
            raise ValueError("not all integers")
        for k, j in enumerate(_INT_IDX):
            columns[j] = ints[k * n : (k + 1) * n]
    except ValueError:
        return None  # leading zeros, or beyond 64 bits (orjson could not serialize it): row by row
    return columns


def serialize_many(events: list[dict[str, Any]]) -> list[bytes]:
    """``[orjson.dumps(e) for e in events]``, 3-4x faster: one dumps of the list, split between objects.

    orjson's per-call cost dominates for small objects. The split is only trusted when the output has
    exactly ``len(events) - 1`` object boundaries ``},{`` (flat objects; a string containing ``},{``
    would add one) and no newline (orjson escapes newlines inside strings); else it falls back.
    """
    data = orjson.dumps(events)
    if len(events) < 2 or data.count(b"},{") != len(events) - 1 or b"\n" in data:
        return list(map(orjson.dumps, events))
    return data[1:-1].replace(b"},{", b"}\n{").split(b"\n")


@dataclass(slots=True)
class BlockEncoder:
    """Turns blocks of one hour's lines into records (or RowErrors), in line order.

    :param validator: compiled from the registered schema.
    :param model: the price model.
    :param source: the events' ``source`` (default ``avazu_replay``).
    :param time_offset_ms: added to every event time before validation (``live`` pacing re-bases).
    """

    validator: ColumnValidator
    model: PriceModel
    source: str = DEFAULT_SOURCE
    time_offset_ms: int = 0
    fast_rows: int = 0
    reference_rows: int = 0

    def encode(
        self,
        lines: list[bytes],
        positions: Sequence[int],
        hour: bytes | None,
        hour_start: int | None,
        hour_rows: int,
        first_line_no: int,
        hour_error: str | None = None,
    ) -> list[Record | RowError]:
        """Encode ``lines``; ``positions[k]`` is line k's index within its hour of ``hour_rows`` rows.

        Event time of position i: ``hour_start + i * 3600000 // hour_rows``, plus the offset
        (docs/design.md "Event time").
        """
        times = (
            [hour_start + i * HOUR_MS // hour_rows + self.time_offset_ms for i in positions]
            if hour_start is not None
            else None
        )
        if hour is not None and times is not None and hour_error is None:
            joined = b"\n".join(lines)
            if not joined.translate(None, _FAST_BYTES):
                columns = _parse_columns(joined.decode("ascii").split("\n"), hour.decode("ascii"))
                if columns is not None:
                    self.fast_rows += len(lines)
                    return self._encode_columns(columns, times, lines, positions, first_line_no)
        self.reference_rows += len(lines)
        return self._reference(lines, positions, times, first_line_no, hour_error)

    def _encode_columns(
        self,
        c: list[Any],
        times: list[int],
        lines: list[bytes],
        positions: Sequence[int],
        first_line_no: int,
    ) -> list[Record | RowError]:
        n = len(times)
        model = self.model
        # to_event's argument order: id, click, device_type, banner_pos, app_id, site_category, app_category.
        cost, conversion, revenue = zip(
            *map(model.derive, c[0], c[1], c[14], c[4], c[8], c[7], c[10]), strict=True
        )
        columns: list[Sequence[Any]] = [
            c[0], c[1], times, (c[2][0],), c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12],
            c[13], c[14], c[15], c[16], c[17], c[18], c[19], c[20], c[21], c[22], c[23],
            list(map(str, c[19])), list(map(str, c[16])), cost, conversion, revenue,
            (model.version,), (self.source,),
        ]  # fmt: skip
        suspects = self.validator.suspects(EVENT_KEYS, columns, n)
        full = [col if len(col) == n else repeat(col[0], n) for col in columns]
        events = list(map(dict, map(zip, repeat(EVENT_KEYS), zip(*full, strict=True))))
        keys = [event_id.encode() for event_id in c[0]]
        out: list[Record | RowError] = list(zip(keys, serialize_many(events), strict=True))
        for i in range(n) if suspects is None else suspects:
            error = check_event(self.validator.reference, events[i], lines[i], first_line_no + positions[i])
            if error is not None:
                out[i] = error
        return out

    def _reference(
        self,
        lines: list[bytes],
        positions: Sequence[int],
        times: list[int] | None,
        first_line_no: int,
        hour_error: str | None,
    ) -> list[Record | RowError]:
        """Row by row with the reader's, the events module's and fastjsonschema's own code."""
        out: list[Record | RowError] = []
        for k, raw in enumerate(lines):
            line_no = first_line_no + positions[k]
            if hour_error is not None:
                out.append(RowError("parsing", f"column hour: {hour_error}", raw, line_no))
                continue
            row = parse_row(line_no, raw)
            if times is not None:
                row.event_time = times[k]
            encoded = encode_row(row, self.validator.reference, self.model, self.source)
            if isinstance(encoded, RowError):
                out.append(encoded)
            else:
                event, value = encoded
                out.append((event["event_id"].encode(), value))
        return out
