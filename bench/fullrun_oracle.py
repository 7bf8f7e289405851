"""The full run's oracle: every window row and every event of an Avazu file, out of core in DuckDB.

``include/flink_jobs/ad_window_metrics/oracle.py`` builds each event in Python (~15 us a row): fine
for tests, hours for 40M rows. This computes the same things as SQL over a DuckDB database on disk
(``SET memory_limit``, spilling to a temp directory), so its memory stays bounded at any file size:

- ``raw``: the file's rows with their position (``idx``, streamed by Arrow's CSV reader, which
  is the only non-SQL step: DuckDB's CSV reader has no row number) and whether each row is one the
  replay accepts (the Avazu reader's and the event schema's rules as regexes over whole rows);
- ``events``: the valid rows with the replay's event time (the i-th of an hour's n rows, malformed
  ones included, gets ``hour_start + floor(i * 3600000 / n)``: docs/design.md "Event time") and the
  price model of ``include/ingest/economics.py`` in SQL (``include/ingest/economics_sql.py``, which
  the batch extract's fast path runs too: SHA-256 words of the id, the same IEEE double operations
  in the same order, so bit-identical results: docs/design.md "Economics");
- ``windows``: 1- and 5-minute tumbling windows, dimension ``all`` plus the five dimensions, money
  in integer micro-units, ratios as exact quotients rounded half-up to 6 decimals (integer
  arithmetic), NULL on a zero denominator: the definitions of oracle.py's module docstring.

``tests/bench/test_fullrun_oracle.py`` proves it equal to oracle.py on small files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from include.flink_jobs.ad_window_metrics.oracle import (  # one definition for both oracles
    DIMENSIONS,
    WINDOW_SIZES_S,
)
from include.ingest.economics import load_price_model
from include.ingest.economics_sql import REVENUE_MICROS, priced_ctes, register_price_model

# The columns of a window row, in realtime.ad_window_metrics' order (money and ratios in micros).
WINDOW_COLUMNS = (
    "size_s", "start_ms", "end_ms", "dimension", "value", "impressions", "clicks", "conversions",
    "cost", "revenue", "ctr", "cpc", "cpa", "roas",
)  # fmt: skip
_KEY = ("size_s", "start_ms", "dimension", "value")
_HEX_COLS = ("site_id", "site_domain", "site_category", "app_id", "app_domain", "app_category",
             "device_id", "device_ip", "device_model")  # fmt: skip
_NONNEG_INT_COLS = ("click", "banner_pos", "device_type", "device_conn_type", "C14", "C15", "C16",
                    "C17", "C18", "C19", "C21")  # fmt: skip


class OracleError(RuntimeError):
    """The file is not one the oracle can compute (the message says why)."""


@dataclass
class LoadSummary:
    """What :meth:`Oracle.load` found in the file."""

    rows: int
    valid_rows: int
    hours: list[tuple[str, int]]  # (YYMMDDHH, rows of the hour incl. invalid ones), in file order
    seconds: float = 0.0

    @property
    def days(self) -> list[date]:
        return sorted({datetime.strptime(h[:6], "%y%m%d").date() for h, _ in self.hours})


@dataclass
class WindowComparison:
    """realtime.ad_window_metrics against the oracle, for the rows of some days."""

    expected: int
    actual: int
    missing: int
    extra: int
    different: int
    examples: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return self.expected > 0 and not (self.missing or self.extra or self.different)


def _literal(text: str) -> str:
    """A SQL string literal (paths under DATA_DIR may contain anything)."""
    return "'" + text.replace("'", "''") + "'"


def _validity_sql() -> str:
    """True when a row of all-text columns is one the replay publishes (not a dead letter).

    Stricter than needed is safe: a valid row this rejects shows up as oracle rows < published.
    """
    hex_concat = " || ',' || ".join(_HEX_COLS)
    int_concat = " || ',' || ".join(_NONNEG_INT_COLS)
    return f"""(
        regexp_full_match(id, '[0-9]{{1,20}}')
        AND (length(id) < 20 OR id <= '18446744073709551615')
        AND click IN ('0', '1')
        AND regexp_full_match({int_concat}, '[0-9]{{1,9}}(,[0-9]{{1,9}}){{10}}')
        AND regexp_full_match(C1, '-?[0-9]{{1,9}}')
        AND regexp_full_match(C20, '-1|[0-9]{{1,9}}')
        AND regexp_full_match({hex_concat}, '[0-9a-f]{{8}}(,[0-9a-f]{{8}}){{8}}')
    )"""


# Valid rows -> events: each row's slot in its hour gives the event time, the price model
# (include/ingest/economics_sql.py) its money, kept in integer micros from there on.
_EVENTS_SQL = f"""
CREATE OR REPLACE TABLE events AS
WITH hours AS (
  SELECT hour, min(idx) AS first_idx, count(*) AS n,
         epoch_ms(strptime('20' || hour, '%Y%m%d%H')) AS start_ms
  FROM raw GROUP BY hour
),
timed AS (
  SELECT r.*, h.start_ms + ((r.idx - h.first_idx) * 3600000) // h.n AS event_time_ms,
         sha256(r.id) AS digest
  FROM raw r JOIN hours h USING (hour)
  WHERE r.valid
),
{priced_ctes("timed")},
converted AS (
  SELECT *, (click = 1 AND u_conv < rate) AS converts FROM priced
)
SELECT id AS event_id, event_time_ms, click, converts::INTEGER AS conversion,
       cost_micros::BIGINT AS cost_micros,
       CASE WHEN converts
            THEN {REVENUE_MICROS}::BIGINT
            ELSE 0 END AS revenue_micros,
       c17::VARCHAR AS campaign_id, c14::VARCHAR AS creative_id, app_id, site_category, app_category,
       device_type, banner_pos, device_conn_type, device_model
FROM converted
"""


def _ratio(num: str, den: str) -> str:
    """num/den in micro-units, rounded half-up, NULL when den is 0 (both non-negative integers)."""
    return f"CASE WHEN {den} = 0 THEN NULL ELSE (2 * ({num}) + ({den})) // (2 * ({den})) END"


def _windows_sql(size_s: int) -> str:
    size_ms = size_s * 1000
    label = " ".join(f"WHEN GROUPING({col}) = 0 THEN '{dim}'" for dim, col in DIMENSIONS.items())
    sets = ", ".join(["(start_ms)", *(f"(start_ms, {col})" for col in DIMENSIONS.values())])
    values = ", ".join(f"{col}::VARCHAR" for col in DIMENSIONS.values())
    return f"""
    INSERT INTO windows
    SELECT {size_s}, start_ms, start_ms + {size_ms}, dimension, value, impressions, clicks, conversions,
           cost, revenue,
           {_ratio("clicks::HUGEINT * 1000000", "impressions")},
           {_ratio("cost", "clicks")},
           {_ratio("cost", "conversions")},
           {_ratio("revenue::HUGEINT * 1000000", "cost")}
    FROM (
      SELECT start_ms, CASE {label} ELSE 'all' END AS dimension, COALESCE({values}, '') AS value,
             count(*) AS impressions, sum(click)::BIGINT AS clicks, sum(conversion)::BIGINT AS conversions,
             sum(cost_micros)::BIGINT AS cost, sum(revenue_micros)::BIGINT AS revenue
      FROM (SELECT *, event_time_ms - event_time_ms % {size_ms} AS start_ms FROM events)
      GROUP BY GROUPING SETS ({sets})
    )
    """


class Oracle:
    """A DuckDB database on disk holding ``raw``, ``events`` and ``windows`` of one file."""

    def __init__(self, db_path: Path, temp_dir: Path, memory_limit: str = "2GB", threads: int = 2) -> None:
        import duckdb

        db_path.parent.mkdir(parents=True, exist_ok=True)
        temp_dir.mkdir(parents=True, exist_ok=True)
        if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", memory_limit):
            raise OracleError(f"memory limit {memory_limit!r} is not like 2GB or 512MiB")
        self.con = duckdb.connect(str(db_path))
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.con.execute(f"SET temp_directory = {_literal(str(temp_dir))}")
        self.con.execute(f"SET threads = {int(threads)}")
        # Order comes from idx, never from scan order: letting DuckDB reorder saves memory.
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET TimeZone = 'UTC'")

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Oracle:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- events --------------------------------------------------------------------------------

    def load(self, path: Path, on_rows: Callable[[int], None] | None = None) -> LoadSummary:
        """Reads the file once into ``raw`` and derives ``events``; raises OracleError if it cannot."""
        import time

        import duckdb

        started = time.monotonic()
        failures: list[OracleError] = []
        self.con.register("reader", _numbered_batches(path, on_rows, failures))
        try:
            self.con.execute(
                f"""CREATE OR REPLACE TABLE raw AS
                    SELECT idx, id, hour, {_validity_sql()} AS valid,
                           TRY_CAST(click AS INTEGER) AS click, TRY_CAST(banner_pos AS INTEGER) AS banner_pos,
                           TRY_CAST(device_type AS INTEGER) AS device_type,
                           TRY_CAST(device_conn_type AS INTEGER) AS device_conn_type,
                           TRY_CAST(C14 AS INTEGER) AS c14, TRY_CAST(C17 AS INTEGER) AS c17,
                           site_category, app_id, app_category, device_model
                    FROM reader"""
            )
        except duckdb.Error:
            # DuckDB wraps what the stream raised into its own error: give back the readable one.
            if failures:
                raise failures[0] from None
            raise
        finally:
            self.con.unregister("reader")
        bad_hours = self.con.execute(
            "SELECT count(*) FROM raw WHERE NOT regexp_full_match(hour, '[0-9]{8}') "
            "OR try_strptime('20' || hour, '%Y%m%d%H') IS NULL"
        ).fetchone()[0]
        if bad_hours:
            raise OracleError(f"{bad_hours} row(s) have no readable hour: the oracle needs clean hours")
        hours = self.con.execute(
            "SELECT hour, count(*), min(idx), max(idx) FROM raw GROUP BY hour ORDER BY min(idx)"
        ).fetchall()
        previous = ""
        for hour, n, first, last in hours:
            # The replay rejects unsorted files too: an hour must be one run of rows, hours ascending.
            if last - first + 1 != n or hour <= previous:
                raise OracleError(f"the file is not sorted by hour (hour {hour}): the replay rejects it")
            previous = hour
        register_price_model(self.con, load_price_model())
        self.con.execute(_EVENTS_SQL)
        rows = sum(n for _, n, _, _ in hours)
        valid = self.con.execute("SELECT count(*) FROM events").fetchone()[0]
        return LoadSummary(rows, valid, [(h, n) for h, n, _, _ in hours], time.monotonic() - started)

    def events_until(self, until_ms: int) -> int:
        """Events with event time <= ``until_ms`` (how far a watermark has got, in rows)."""
        return self.con.execute(
            "SELECT count(*) FROM events WHERE event_time_ms <= ?", [until_ms]
        ).fetchone()[0]

    def day_view(self, day: date, name: str = "day_events") -> str:
        """A view of one UTC day's events with money as DECIMAL(18,6) (the marts' input); its name."""
        start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        self.con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {name} AS
                SELECT event_id, event_time_ms, click, conversion,
                       (cost_micros * 0.000001)::DECIMAL(18, 6) AS cost,
                       (revenue_micros * 0.000001)::DECIMAL(18, 6) AS revenue,
                       campaign_id, creative_id, app_id, site_category, app_category, device_type,
                       banner_pos, device_conn_type, device_model
                FROM events WHERE event_time_ms >= {start} AND event_time_ms < {start + 86_400_000}"""
        )
        return name

    # -- windows -------------------------------------------------------------------------------

    def build_windows(self) -> int:
        """Computes ``windows`` from ``events``; returns its row count."""
        self.con.execute(
            """CREATE OR REPLACE TABLE windows (
                 size_s INTEGER, start_ms BIGINT, end_ms BIGINT, dimension VARCHAR, value VARCHAR,
                 impressions BIGINT, clicks BIGINT, conversions BIGINT, cost BIGINT, revenue BIGINT,
                 ctr BIGINT, cpc BIGINT, cpa BIGINT, roas BIGINT)"""
        )
        for size_s in WINDOW_SIZES_S:
            self.con.execute(_windows_sql(size_s))
        return self.con.execute("SELECT count(*) FROM windows").fetchone()[0]

    def window_rows(self) -> Iterator[tuple[Any, ...]]:
        """Every oracle window row (WINDOW_COLUMNS order), for small files."""
        yield from self.con.execute(f"SELECT {', '.join(WINDOW_COLUMNS)} FROM windows").fetchall()

    def compare_windows(self, actual_csv: Path, examples: int = 5) -> WindowComparison:
        """The windows against a CSV export of the table (:data:`EXPORT_SQL`'s columns)."""
        types = {
            "size_s": "INTEGER", "start_ms": "BIGINT", "end_ms": "BIGINT", "dimension": "VARCHAR",
            "value": "VARCHAR", "impressions": "BIGINT", "clicks": "BIGINT", "conversions": "BIGINT",
            "cost": "BIGINT", "revenue": "BIGINT", "ctr": "BIGINT", "cpc": "BIGINT", "cpa": "BIGINT",
            "roas": "BIGINT",
        }  # fmt: skip
        columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
        # allow_quoted_nulls off: PostgreSQL writes '' as "" and NULL as nothing, and 'all' rows
        # carry the value ''.
        self.con.execute(
            f"""CREATE OR REPLACE TABLE actual AS SELECT * FROM read_csv({_literal(str(actual_csv))}, header = false,
                columns = {columns}, allow_quoted_nulls = false, auto_detect = false)"""
        )
        on = " AND ".join(f"w.{k} = a.{k}" for k in _KEY)
        differs = " OR ".join(f"w.{c} IS DISTINCT FROM a.{c}" for c in WINDOW_COLUMNS if c not in _KEY)
        expected, actual = (
            self.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("windows", "actual")
        )
        missing, extra, different = self.con.execute(
            f"""SELECT count(*) FILTER (WHERE a.size_s IS NULL), count(*) FILTER (WHERE w.size_s IS NULL),
                       count(*) FILTER (WHERE w.size_s IS NOT NULL AND a.size_s IS NOT NULL AND ({differs}))
                FROM windows w FULL OUTER JOIN actual a ON {on}"""
        ).fetchone()
        shown = []
        if missing or extra or different:
            cols = ", ".join(f"w.{c}, a.{c}" for c in WINDOW_COLUMNS)
            for row in self.con.execute(
                f"""SELECT {cols} FROM windows w FULL OUTER JOIN actual a ON {on}
                    WHERE a.size_s IS NULL OR w.size_s IS NULL OR ({differs})
                    ORDER BY coalesce(w.start_ms, a.start_ms), coalesce(w.dimension, a.dimension),
                             coalesce(w.value, a.value) LIMIT {int(examples)}"""
            ).fetchall():
                shown.append(_describe(row))
        return WindowComparison(expected, actual, missing, extra, different, shown)


# The table's rows in the oracle's terms: epoch ms, micro-units (exact: every value has 6 decimals).
EXPORT_SQL = """
SELECT window_size_s, (extract(epoch FROM window_start) * 1000)::bigint,
       (extract(epoch FROM window_end) * 1000)::bigint, dimension, dimension_value,
       impressions, clicks, conversions, (cost * 1000000)::bigint, (revenue * 1000000)::bigint,
       (ctr * 1000000)::bigint, (cpc * 1000000)::bigint, (cpa * 1000000)::bigint, (roas * 1000000)::bigint
FROM realtime.ad_window_metrics
WHERE window_start >= {start} AND window_start < {end}
"""


def _describe(row: tuple[Any, ...]) -> str:
    oracle, table = row[0::2], row[1::2]
    known = oracle if oracle[0] is not None else table
    key = (
        f"{known[0]}s window at {datetime.fromtimestamp(known[1] / 1000, UTC):%Y-%m-%d %H:%M} "
        f"{known[3]}={known[4]!r}"
    )
    if table[0] is None:
        return f"{key}: missing from the table"
    if oracle[0] is None:
        return f"{key}: in the table, not in the oracle"
    diffs = [
        f"{name} table {t} oracle {o}"
        for name, o, t in zip(WINDOW_COLUMNS, oracle, table, strict=True)
        if o != t
    ]
    return f"{key}: " + ", ".join(diffs)


def export_windows(conn: Any, first_day: date, last_day: date, out: Path) -> int:
    """COPY the table's rows of ``[first_day, last_day]`` to a CSV file; returns the bytes written."""
    from psycopg import sql

    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    end = start + timedelta(days=(last_day - first_day).days + 1)
    query = sql.SQL(EXPORT_SQL).format(start=sql.Literal(start), end=sql.Literal(end))
    written = 0
    copy_sql = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query)
    with conn.cursor() as cur, out.open("wb") as fh, cur.copy(copy_sql) as copy:
        for block in copy:
            fh.write(block)
            written += len(block)
    return written


def as_window_rows(rows: Iterator[tuple[Any, ...]]) -> dict[Any, Any]:
    """Oracle rows as oracle.py's ``WindowRow`` values keyed like it (for the tests)."""
    from include.flink_jobs.ad_window_metrics.oracle import WindowRow

    def money(micros: int | None) -> Decimal | None:
        return None if micros is None else Decimal(micros).scaleb(-6).quantize(Decimal("0.000001"))

    out = {}
    for size_s, start_ms, end_ms, dim, value, imp, clicks, conv, cost, rev, ctr, cpc, cpa, roas in rows:
        row = WindowRow(
            size_s,
            datetime.fromtimestamp(start_ms / 1000, UTC),
            datetime.fromtimestamp(end_ms / 1000, UTC),
            dim,
            value,
            imp,
            clicks,
            conv,
            money(cost),
            money(rev),
            money(ctr),
            money(cpc),
            money(cpa),
            money(roas),
        )
        out[row.key] = row
    return out


def _numbered_batches(path: Path, on_rows: Callable[[int], None] | None, failures: list[OracleError]) -> Any:
    """The file as a stream of all-text Arrow batches plus ``idx``, the row's position in the file.

    An error is also appended to ``failures``: raised inside DuckDB's scan, it comes back wrapped.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from include.ingest.avazu_reader import AVAZU_COLUMNS, check_header, open_avazu

    if not os.path.isfile(path):
        raise OracleError(f"file not found: {path}")
    with open_avazu(path) as probe:
        try:
            check_header(probe.readline())
        except ValueError as exc:
            raise OracleError(f"{path}: {exc}") from None
    schema = pa.schema([*[(c, pa.string()) for c in AVAZU_COLUMNS], ("idx", pa.int64())])
    convert = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in AVAZU_COLUMNS}, strings_can_be_null=False
    )
    parse = pacsv.ParseOptions(quote_char=False, escape_char=False, ignore_empty_lines=True)
    read = pacsv.ReadOptions(block_size=16 << 20)

    def batches() -> Iterator[pa.RecordBatch]:
        offset = 0
        try:
            with open_avazu(path) as stream:
                reader = pacsv.open_csv(
                    stream, read_options=read, parse_options=parse, convert_options=convert
                )
                if tuple(reader.schema.names) != AVAZU_COLUMNS:
                    failures.append(OracleError(f"{path}: not the Avazu columns"))
                    raise failures[-1]
                for batch in reader:
                    n = batch.num_rows
                    idx = pa.array(np.arange(offset, offset + n, dtype=np.int64))
                    yield pa.RecordBatch.from_arrays([*batch.columns, idx], schema=schema)
                    offset += n
                    if on_rows:
                        on_rows(offset)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            # A row Arrow cannot split into 24 text columns: the replay dead-letters it, but this
            # oracle only computes strictly shaped files.
            failures.append(OracleError(f"{path} is not strictly Avazu-shaped ({str(exc)[:200]})"))
            raise failures[-1] from None

    return pa.RecordBatchReader.from_batches(schema, batches())
