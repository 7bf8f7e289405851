"""The small value types passed between the ingest stages, and the ingest exceptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ErrorType = Literal["parsing", "schema", "duplicate", "flink_logic", "late_event", "sink"]


class AvazuFormatError(ValueError):
    """The file as a whole is not an Avazu CSV (bad header, empty file): nothing in it can be trusted."""


class UnsortedInputError(AvazuFormatError):
    """An hour reappeared after a later one: replay event times need every hour's row count up front."""


class CorruptInputError(AvazuFormatError):
    """The file cannot be read to its end (a truncated or corrupt gzip, an I/O error)."""


@dataclass(slots=True)
class AvazuRow:
    """One parsed data row.

    ``values`` follows ``AVAZU_COLUMNS``: ``id``, ``hour`` and the hash columns are ``str`` (the id
    exceeds BIGINT and must never pass through a float), the numeric columns are ``int``. ``raw`` is
    the line without its terminator, kept so a row rejected later can be dead-lettered verbatim.
    """

    line_no: int
    raw: bytes
    values: list[Any]
    event_time: int = 0


@dataclass(slots=True)
class RowError:
    """A row that cannot become an event. Returned, never raised, so one bad row never stops a replay."""

    error_type: ErrorType
    message: str
    raw: bytes
    line_no: int | None = None
    event_id: str | None = None
    event_time: int | None = None
    field: str | None = None
    # An over-long line: ``raw`` is its prefix; {"bytes", "sha256", "path"} say where the rest is.
    raw_ref: dict[str, Any] | None = None
