"""Extract one UTC day of ad events into ``<DATA_DIR>/processed/parquet/dt=D/events.parquet``.

Two sources, one output (the columns of ``analytics.ad_events``, see :data:`PARQUET_SCHEMA`):

- ``avazu``: an Avazu CSV (plain or gzip) read directly, for backfills. The events are exactly
  those the stream would produce for the same rows (same event times, same price model,
  same rejected rows), because either

  * the **columnar fast path** runs: Arrow's multi-threaded CSV parser + one DuckDB query that
    numbers the rows of each hour and applies the price model in SQL
    (:mod:`include.ingest.economics_sql`: SHA-256 words, the same IEEE double arithmetic as
    :mod:`include.ingest.economics`). It first proves every kept row is
    one the reference path would accept (the reader's and the schema's rules, as regexes over
    whole columns); if any row is not, or the file is not strictly Avazu-shaped, it gives up, and
  * the **reference path** runs: ``read_avazu`` + ``encode_row`` per row, which rejects bad rows
    with the stream's own messages (they are counted, not loaded).

  ``tests/include/batch/test_extract.py`` checks both paths give identical tables. The fast path
  is what makes a 4M-row day fit the one-minute budget (the reference path costs ~15 us a row).
- ``archive``: the Flink job's archive (the contract of include/archive.py: typed Parquet under
  ``dt=YYYY-MM-DD/hour_of_day=HH/``), read with DuckDB, kept when their event_time falls on day D,
  one row per event id (an event archived twice counts once; the result says how many copies
  were dropped).

Money is carried as DECIMAL(18,6): the model rounds to micros, so the cast is exact.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from include import archive, config
from include.batch.days import avazu_hours, day_bounds_ms, parquet_dir
from include.ingest.avazu_reader import AVAZU_COLUMNS, HEX_COLUMNS, INT_COLUMNS, check_header, open_avazu
from include.ingest.economics import PriceModel, load_price_model
from include.ingest.economics_sql import REVENUE_MICROS, priced_ctes, register_price_model
from include.ingest.event_time import hour_start_ms
from include.ingest.events import DEFAULT_SOURCE
from include.ingest.records import AvazuFormatError

PARQUET_FILE = "events.parquet"
MONEY = pa.decimal128(18, 6)
log = logging.getLogger(__name__)

PARQUET_SCHEMA = pa.schema(
    [
        ("event_day", pa.date32()),
        ("event_id", pa.string()),
        ("event_time", pa.timestamp("ms", tz="UTC")),
        ("hour", pa.string()),
        ("click", pa.int16()),
        ("conversion", pa.int16()),
        ("cost", MONEY),
        ("revenue", MONEY),
        ("campaign_id", pa.string()),
        ("creative_id", pa.string()),
        ("c1", pa.int32()),
        ("banner_pos", pa.int32()),
        ("site_id", pa.string()),
        ("site_domain", pa.string()),
        ("site_category", pa.string()),
        ("app_id", pa.string()),
        ("app_domain", pa.string()),
        ("app_category", pa.string()),
        ("device_id", pa.string()),
        ("device_ip", pa.string()),
        ("device_model", pa.string()),
        ("device_type", pa.int32()),
        ("device_conn_type", pa.int32()),
        *[(f"c{n}", pa.int32()) for n in range(14, 22)],
        ("price_model_version", pa.string()),
        ("source", pa.string()),
    ]
)
COLUMNS: tuple[str, ...] = tuple(PARQUET_SCHEMA.names)

# C1 (any integer) and C20 (-1 = unknown) may be negative; the schema holds every other integer to >= 0.
_NONNEG_INT_COLS = tuple(c for c in INT_COLUMNS if c not in ("C1", "C20"))


class ExtractError(RuntimeError):
    """The day cannot be extracted at all (missing file or archive directory, unreadable input).

    Retrying does not help: the message is one line for the person who asked, without the file's
    content (the DAG fails the task at once).
    """


@dataclass
class ExtractResult:
    """What :func:`extract_day` wrote; returned to the DAG as XCom (JSON-safe)."""

    day: str
    source: str
    source_uri: str
    parquet_path: str
    rows: int
    clicks: int
    rejected: dict[str, int] = field(default_factory=dict)
    rejected_examples: list[str] = field(default_factory=list)
    path_used: str = ""
    duplicates_dropped: int = 0
    incomplete_hours: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def extract_day(
    day: date,
    source: str,
    data_dir: Path,
    file: str | os.PathLike[str] | None = None,
    model: PriceModel | None = None,
    force_reference: bool = False,
    archive_root: Path | None = None,
) -> ExtractResult:
    """Write day ``day``'s events to Parquet and say what was written.

    :param day: the UTC day D.
    :param source: ``avazu`` (needs ``file``) or ``archive``.
    :param data_dir: DATA_DIR (archive input and Parquet output live below it).
    :param file: the Avazu CSV/gzip file; ignored for ``archive``.
    :param model: price model; default the packaged ``price_model.yaml``.
    :param force_reference: skip the columnar fast path (tests compare both).
    :param archive_root: the archive's directory; default FLINK_ARCHIVE_URI.
    :raises ExtractError: missing input.
    """
    started = time.monotonic()
    out_dir = parquet_dir(data_dir, day)
    duplicates, incomplete = 0, []
    if source == "avazu":
        if not file:
            raise ExtractError("source=avazu needs the file param (an Avazu CSV or .gz)")
        path = Path(file)
        if not path.is_absolute():
            path = data_dir.parent / path if not path.exists() else path.resolve()
        if not path.exists():
            raise ExtractError(f"Avazu file not found: {path}")
        model = model or load_price_model()
        try:
            table, rejected, examples, used = _avazu_table(path, day, model, force_reference)
        except AvazuFormatError as exc:
            raise ExtractError(f"{path}: {exc}") from None
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ExtractError(f"{path} is a truncated or corrupt gzip ({exc}): copy it again") from None
        uri = str(path)
    elif source == "archive":
        root = archive_root or archive.root_path(config.get("FLINK_ARCHIVE_URI"))
        directory = archive.day_dir(root, day)
        if not directory.is_dir():
            raise ExtractError(f"no archive for {day}: {directory} does not exist")
        (table, duplicates), rejected, examples, used = _archive_table(root, day), {}, [], "archive"
        incomplete = archive.missing_hours(root, day)
        uri = str(directory)
    else:
        raise ExtractError(f"source must be avazu or archive, got {source!r}")
    target = _write_parquet(table, out_dir)
    clicks = int(pa.compute.sum(table["click"]).as_py() or 0) if table.num_rows else 0
    return ExtractResult(
        day=day.isoformat(),
        source=source,
        source_uri=uri,
        parquet_path=str(target),
        rows=table.num_rows,
        clicks=clicks,
        rejected=dict(rejected),
        rejected_examples=examples,
        path_used=used,
        duplicates_dropped=duplicates,
        incomplete_hours=incomplete,
        seconds=round(time.monotonic() - started, 3),
    )


def _write_parquet(table: pa.Table, out_dir: Path) -> Path:
    """Replace the day's directory atomically enough: write beside it, then swap (a rerun replaces D)."""
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    pq.write_table(table, tmp / PARQUET_FILE, compression="zstd", row_group_size=1 << 20)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir / PARQUET_FILE


# -- avazu -------------------------------------------------------------------------------------


def _avazu_table(
    path: Path, day: date, model: PriceModel, force_reference: bool
) -> tuple[pa.Table, Counter[str], list[str], str]:
    if not force_reference:
        table = _avazu_fast(path, day, model)
        if table is not None:
            return table, Counter(), [], "columnar"
    table, rejected, examples = _avazu_reference(path, day, model)
    return table, rejected, examples, "reference"


def _avazu_reference(path: Path, day: date, model: PriceModel) -> tuple[pa.Table, Counter[str], list[str]]:
    """Per-row path: the stream's own reader, pricing and schema validation, and its duplicate-id
    rule (later copies of an id rejected as ``duplicate``); bad rows counted."""
    from include.ingest.avazu_reader import read_avazu
    from include.ingest.duplicates import DUPLICATE, FirstCopies, duplicate_message
    from include.ingest.events import compile_validator, encode_row, load_schema
    from include.ingest.records import RowError

    validator = compile_validator(load_schema())
    lo, hi = avazu_hours(day)
    cols: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    rejected: Counter[str] = Counter()
    examples: list[str] = []
    first_copies, day_number = FirstCopies(), day.toordinal()
    for item in read_avazu(path, lo, hi):
        encoded = encode_row(item, validator, model)
        if isinstance(encoded, tuple) and first_copies.is_repeat(encoded[0]["event_id"], day_number):
            event_id = encoded[0]["event_id"]
            message = duplicate_message(event_id, encoded[0]["event_time"])
            encoded = RowError(DUPLICATE, message, item.raw, item.line_no, event_id=event_id)
        if not isinstance(encoded, tuple):
            rejected[encoded.error_type] += 1
            if len(examples) < 5:
                examples.append(f"line {encoded.line_no}: {encoded.error_type}: {encoded.message}")
            continue
        event = encoded[0]
        for name in COLUMNS:
            cols[name].append(_event_value(event, name, day))
    return _table_from_lists(cols), rejected, examples


def _event_value(event: dict[str, Any], name: str, day: date) -> Any:
    if name == "event_day":
        return day
    if name in ("cost", "revenue"):
        from decimal import Decimal

        return Decimal(repr(float(event[name])))
    if name.startswith("c") and name[1:].isdigit():
        return event[name.upper()]
    return event[name]


def _table_from_lists(cols: dict[str, list[Any]]) -> pa.Table:
    arrays = []
    for f in PARQUET_SCHEMA:
        values = cols[f.name]
        if f.name == "event_time":
            arrays.append(pa.array(values, pa.int64()).cast(f.type))
        else:
            arrays.append(pa.array(values, f.type))
    return pa.Table.from_arrays(arrays, schema=PARQUET_SCHEMA)


def _read_kept_rows(path: Path, lo: str, hi: str) -> pa.Table | None:
    """All-string Arrow table of the rows with ``lo <= hour <= hi`` plus their file position ``idx``.

    Streams the file (a 6 GB Avazu train file never sits in memory) and stops at the first block
    past the day, like the reference reader. None when Arrow cannot parse the file strictly (the
    reference path will then say precisely what is wrong).
    """
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    with open_avazu(path) as probe:
        check_header(probe.readline())  # a wrong file fails here, with the reader's message
    convert = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in AVAZU_COLUMNS}, strings_can_be_null=False
    )
    parse = pacsv.ParseOptions(quote_char=False, escape_char=False, ignore_empty_lines=False)
    read = pacsv.ReadOptions(block_size=8 << 20)
    kept: list[pa.RecordBatch] = []
    offset = 0
    try:
        with open_avazu(path) as stream:
            reader = pacsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
            if tuple(reader.schema.names) != AVAZU_COLUMNS:
                return None
            for batch in reader:
                n = batch.num_rows
                hours = batch.column("hour")
                mask = pc.and_(pc.greater_equal(hours, lo), pc.less_equal(hours, hi))
                if pc.any(mask).as_py():
                    idx = pa.array(range(offset, offset + n), pa.int64())
                    with_idx = pa.RecordBatch.from_arrays([*batch.columns, idx], [*AVAZU_COLUMNS, "idx"])
                    kept.append(with_idx.filter(mask))
                offset += n
                if pc.any(pc.greater(hours, hi)).as_py():
                    break
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    if not kept:
        schema = pa.schema([*[(c, pa.string()) for c in AVAZU_COLUMNS], ("idx", pa.int64())])
        return schema.empty_table()
    return pa.Table.from_batches(kept)


def _avazu_fast(path: Path, day: date, model: PriceModel) -> pa.Table | None:
    """Columnar path, or None when any kept row is not one the reference path would accept as is."""
    import duckdb

    lo, hi = avazu_hours(day)
    raw = _read_kept_rows(path, lo, hi)
    if raw is None:
        return None
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        con.register("raw", raw)
        hex_concat = " || ',' || ".join(HEX_COLUMNS)
        int_concat = " || ',' || ".join(_NONNEG_INT_COLS)
        bad, unsorted, repeated = con.execute(
            f"""
            SELECT
              count(*) FILTER (WHERE NOT (
                regexp_full_match(id, '[0-9]{{1,20}}')
                AND (length(id) < 20 OR id <= '18446744073709551615')
                AND regexp_full_match(hour, '[0-9]{{8}}')
                AND click IN ('0', '1')
                AND regexp_full_match({int_concat}, '[0-9]{{1,9}}(,[0-9]{{1,9}}){{10}}')
                AND regexp_full_match(C1, '-?[0-9]{{1,9}}')
                AND regexp_full_match(C20, '-1|[0-9]{{1,9}}')
                AND regexp_full_match({hex_concat}, '[0-9a-f]{{8}}(,[0-9a-f]{{8}}){{8}}')
              )),
              count(*) FILTER (WHERE hour < prev_hour),
              count(*) - count(DISTINCT id)
            FROM (SELECT *, lag(hour) OVER (ORDER BY idx) AS prev_hour FROM raw)
            """
        ).fetchone()
        if bad or unsorted or repeated:  # the reference path says which rows, and why
            return None
        hours = [h for (h,) in con.execute("SELECT DISTINCT hour FROM raw").fetchall()]
        try:
            starts = [(h, hour_start_ms(h)) for h in hours]
        except ValueError:
            return None
        con.execute("CREATE TEMP TABLE hour_start (hour VARCHAR, start_ms BIGINT)")
        if starts:
            con.executemany("INSERT INTO hour_start VALUES (?, ?)", starts)
        register_price_model(con, model)
        table = con.execute(_FAST_SQL, [day, model.version, DEFAULT_SOURCE]).to_arrow_table()
    finally:
        con.close()
    return table.cast(PARQUET_SCHEMA)


# Each hour's rows numbered (the event time rule), then the price model (include/ingest/economics_sql.py).
_FAST_SQL = f"""
WITH numbered AS (
  SELECT r.*, h.start_ms,
         r.idx - min(r.idx) OVER (PARTITION BY r.hour) AS pos,
         count(*) OVER (PARTITION BY r.hour) AS n,
         sha256(r.id) AS digest
  FROM raw r JOIN hour_start h USING (hour)
),
{priced_ctes("numbered")},
converted AS (
  SELECT *, (click = '1' AND u_conv < rate) AS is_conversion FROM priced
)
SELECT
  $1::DATE AS event_day,
  id AS event_id,
  epoch_ms(start_ms + (pos * 3600000) // n) AS event_time,
  hour,
  click::SMALLINT AS click,
  is_conversion::SMALLINT AS conversion,
  (cost_micros / 1000000.0)::DECIMAL(18, 6) AS cost,
  CASE WHEN is_conversion
       THEN ({REVENUE_MICROS} / 1000000.0)::DECIMAL(18, 6)
       ELSE 0::DECIMAL(18, 6) END AS revenue,
  C17::INTEGER::VARCHAR AS campaign_id,
  C14::INTEGER::VARCHAR AS creative_id,
  C1::INTEGER AS c1, banner_pos::INTEGER AS banner_pos,
  site_id, site_domain, site_category, app_id, app_domain, app_category,
  device_id, device_ip, device_model,
  device_type::INTEGER AS device_type, device_conn_type::INTEGER AS device_conn_type,
  C14::INTEGER AS c14, C15::INTEGER AS c15, C16::INTEGER AS c16, C17::INTEGER AS c17,
  C18::INTEGER AS c18, C19::INTEGER AS c19, C20::INTEGER AS c20, C21::INTEGER AS c21,
  $2::VARCHAR AS price_model_version,
  $3::VARCHAR AS source
FROM converted
ORDER BY idx
"""


# -- archive -----------------------------------------------------------------------------------


def _archive_table(root: Path, day: date) -> tuple[pa.Table, int]:
    """The day's archived events, one row per event id, and how many duplicate rows were dropped.

    Reads the committed Parquet files of the archive contract (include/archive.py). A duplicate is
    the same event archived again (a job restarted without its state, an hour replayed twice):
    the copy with the smallest (event_time, file, row) is kept, so the result does not depend on
    which copy came first. Rows are kept when their event_time falls on the day, whatever hour
    directory they are in. Rows keep the archive's order (hours, files, rows): nothing downstream
    needs them sorted, and sorting a day cost more than reading it.
    """
    import duckdb

    start_ms, end_ms = day_bounds_ms(day)
    ints = ", ".join(f"C{n}::INTEGER AS c{n}" for n in range(14, 22))
    con = duckdb.connect()
    try:
        _read_archived_day(con, root, day, start_ms, end_ms)
        total, distinct = con.execute("SELECT count(*), count(DISTINCT event_id) FROM day_events").fetchone()
        # Numbering each id's copies costs a sort of the whole day: only pay it when there are copies.
        once = (
            ""
            if total == distinct
            else (
                "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY event_time, filename, file_row_number) = 1"
            )
        )
        table = con.execute(
            f"""
            SELECT $1::DATE AS event_day, event_id, epoch_ms(event_time) AS event_time, hour,
                   click::SMALLINT AS click, conversion::SMALLINT AS conversion, cost, revenue,
                   campaign_id, creative_id, C1::INTEGER AS c1, banner_pos::INTEGER AS banner_pos,
                   site_id, site_domain, site_category, app_id, app_domain, app_category,
                   device_id, device_ip, device_model,
                   device_type::INTEGER AS device_type, device_conn_type::INTEGER AS device_conn_type,
                   {ints}, price_model_version, source
            FROM day_events
            {once}
            """,
            [day],
        ).to_arrow_table()
    finally:
        con.close()
    return table.cast(PARQUET_SCHEMA), total - table.num_rows


def _read_archived_day(con: Any, root: Path, day: date, start_ms: int, end_ms: int, tries: int = 3) -> None:
    """The day's rows into the temporary table ``day_events``. A file removed between the listing
    and the read (the hour was compacted meanwhile: include/archive_compaction.py) means the day
    is listed and read again."""
    import duckdb

    for attempt in range(1, tries + 1):
        files = [str(p) for p in archive.committed_files(root, day)]
        if not files:
            raise ExtractError(f"no committed event files under {archive.day_dir(root, day)}/hour_of_day=*/")
        try:
            con.execute(
                """CREATE OR REPLACE TEMP TABLE day_events AS
                   SELECT * FROM read_parquet($1, hive_partitioning = false, filename = true,
                                              file_row_number = true)
                   WHERE event_time >= $2 AND event_time < $3""",
                [files, start_ms, end_ms],
            )
            return
        except duckdb.IOException:
            if attempt == tries or all(os.path.exists(f) for f in files):
                raise
            log.info(
                "an archive file of %s went away while it was read (compacted): reading the day again", day
            )
