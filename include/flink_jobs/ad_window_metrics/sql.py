"""The ad_window_metrics job as SQL text: pure functions, no PyFlink import.

Everything the job computes is in these strings, so the same transform runs in the streaming job
(``job.py``) and in a batch TableEnvironment (the unit tests). The topic is read once and each
record parsed once, by the job's own format ``adevents-json`` (java/, built by job.py): Flink 2.0
SQL has no fast *and* honest way to parse JSON in one pass otherwise: ``JSON_VALUE`` re-parses the
whole record per call (~13 calls: ~12k rows/s measured) and the ``json`` format can only drop the
records it cannot parse (``json.ignore-parse-errors``) or fail the job.

``events`` (:func:`events_source_ddl`)
    Every property of the event schema as STRING (what the ``json`` format gives a STRING
    column: a badly typed value can never fail or drop a row: the checks are SQL), the record's
    value as read (``payload_bytes``) and ``parse_error``: NULL, or why the value is not a UTF-8
    JSON object (no value, invalid UTF-8, anything else), with every property NULL. Kafka metadata
    (topic, partition, offset), ``heartbeat`` (the record carries the ``adevents-heartbeat``
    header: a watermark-only control record) and the event-time attribute ``rowtime`` with its
    bounded-out-of-orderness watermark, pushed into the Kafka source (per-partition watermarks,
    idle-partition timeout).
``classified_events`` (:func:`classify_view`)
    Strict checks (``click`` exactly ``0``/``1``, integers must round-trip through their text,
    money a non-negative decimal) and ``error_type``: NULL for a good on-time event, else
    ``parsing``, ``schema``, ``late_event`` (valid, but ``rowtime <= CURRENT_WATERMARK(rowtime)``
    on arrival) or ``heartbeat``. Dead letters carry ``payload_bytes``, the record as read.
``on_time_events``
    ``error_type IS NULL``: the only input of the windows. A row that passed the lateness test
    cannot be dropped by a window: the window operator is downstream of this filter, so its
    watermark is never ahead of the one the filter saw (README "Late events").
``window_combos_1m`` (:func:`combos_view`)
    Level 1: a 1-minute TUMBLE grouped by the full dimension combination, the only aggregation
    that sees every event (one update per event, no GROUPING SETS fan-out).
``window_metrics`` (:func:`window_metrics_query`)
    Level 2: cascaded 1-minute and 5-minute TUMBLEs over the level-1 rows (``combo_time``, their
    ``window_time``, is the rowtime) with GROUPING SETS over the dimensions, then the ratios
    (docs/design.md "Table grains" and "Metric definitions").

Money is DECIMAL(18,6) end to end; the ratios are the exact quotient rounded half-up to 6 decimals
(``CAST(... AS DECIMAL(18,6))``), NULL when the denominator is 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from include import archive
from include import metrics_contract as contract

# One name for the producer and the job.
from include.ingest.end_of_input import HEARTBEAT_HEADER, MARKER_PROPERTY
from include.schema_headers import schema_headers

# (property, JSON type) of the event schema, in schema order: job.py and the tests read them from
# include/schemas/ad_event.schema.json with :func:`schema_properties`.
Properties = Sequence[tuple[str, str]]

_TS_FORMAT = "yyyy-MM-dd''T''HH:mm:ss.SSS''Z''"  # include.ingest.events.utc_timestamp's shape
_NEEDED = (
    "event_id", "event_time", "click", "conversion", "cost", "revenue",
    "campaign_id", "device_type", "site_category", "app_category", "banner_pos",
)  # fmt: skip


def schema_properties(schema: dict) -> list[tuple[str, str]]:
    """``(name, json type)`` of every event property of a JSON Schema, in order (``["string","null"]``
    becomes ``"string|null"``); the watermark markers' own property is not one."""
    out = []
    for name, spec in schema["properties"].items():
        if name == MARKER_PROPERTY:
            continue  # markers are told apart by their header (heartbeat), never by a column
        kind = spec.get("type", "string")
        out.append((name, "|".join(kind) if isinstance(kind, list) else kind))
    missing = [n for n in _NEEDED if n not in dict(out)]
    if missing:
        raise ValueError(f"the event schema lacks properties the job needs: {missing}")
    return out


def _quote(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _with(options: dict[str, str]) -> str:
    return ",\n    ".join(f"{_quote(k)} = {_quote(v)}" for k, v in options.items())


def interval(ms: int) -> str:
    """A Flink SQL day-time interval of ``ms`` milliseconds (``INTERVAL '0 00:00:05.000' DAY TO SECOND(3)``)."""
    if ms < 0:
        raise ValueError(f"interval must be >= 0 ms, got {ms}")
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}' DAY TO SECOND(3)"


ROWTIME_EXPR = "TO_TIMESTAMP_LTZ(COALESCE(TRY_CAST(event_time AS BIGINT), 0), 3)"
"""Event time from the ``event_time`` text; epoch 0 when unusable (the row is dead-lettered as
``schema`` and, being in 1970, can never advance the watermark)."""

FORMAT = "adevents-json"
PAYLOAD_COLUMN, ERROR_COLUMN = "payload_bytes", "parse_error"
FORMAT_OPTIONS: dict[str, str] = {
    "format": FORMAT,
    f"{FORMAT}.payload-column": PAYLOAD_COLUMN,
    f"{FORMAT}.error-column": ERROR_COLUMN,
}
"""The job's format (java/io/adevents/flink/EventJsonFormatFactory.java): one Jackson streaming pass
per record, never a dropped record. Numbers keep the text the producer wrote (``1e-05`` stays
``1e-05``), as with the ``json`` format."""


def _columns(properties: Properties) -> str:
    return ",\n    ".join(
        [
            *(f"{_ident(name)} STRING" for name, _ in properties),
            f"{PAYLOAD_COLUMN} BYTES",
            f"{ERROR_COLUMN} STRING",
        ]
    )


def events_source_ddl(
    table: str,
    properties: Properties,
    *,
    topic: str,
    bootstrap_servers: str,
    group_id: str,
    out_of_orderness_ms: int,
    idle_timeout_ms: int,
    startup_mode: str = "earliest-offset",
    bounded_offsets: tuple[str, str] | None = None,
    client_properties: Mapping[str, str] | None = None,
) -> str:
    """The Kafka source: every record once, parsed, per-partition watermarks, optional idle timeout.

    ``bounded_offsets`` ``(start, end)`` (``"partition:0,offset:12;partition:1,offset:7"``, end
    exclusive) makes it a bounded source over exactly those records: a backfill's batch job reads
    the records its own replay published, and nothing else (include/backfill/).

    ``idle_timeout_ms`` 0 (the job's default) leaves idleness off: a source that falls behind
    (backpressure, a busy machine) stops reading some partitions for a while, Flink then calls them
    idle, the others drive the watermark alone, and the stalled partitions' events arrive late and
    are lost to the windows (measured: 6,108 of 120,000 events of a backlog on a loaded 2-core
    machine). Partitions without data move on watermark markers instead
    (include/ingest/end_of_input.py).

    Offsets live in checkpoints: ``startup_mode`` only applies when the job starts without a
    checkpoint or savepoint. ``client_properties``: the Kafka client's own (security) properties
    (include/kafka/client_conf.py), passed on as ``properties.*``.
    """
    options = {
        "connector": "kafka",
        "topic": topic,
        "properties.bootstrap.servers": bootstrap_servers,
        "properties.group.id": group_id,
        "properties.isolation.level": "read_committed",
        "scan.startup.mode": startup_mode,
        **{f"value.{k}": v for k, v in FORMAT_OPTIONS.items()},
        **_client_options(client_properties),
    }
    if idle_timeout_ms > 0:
        options["scan.watermark.idle-timeout"] = f"{idle_timeout_ms} ms"
    if bounded_offsets is not None:
        options |= {
            "scan.startup.mode": "specific-offsets",
            "scan.startup.specific-offsets": bounded_offsets[0],
            "scan.bounded.mode": "specific-offsets",
            "scan.bounded.specific-offsets": bounded_offsets[1],
        }
    return f"""CREATE TEMPORARY TABLE {table} (
    {_columns(properties)},
    kafka_topic STRING METADATA FROM 'topic' VIRTUAL,
    kafka_partition INT METADATA FROM 'partition' VIRTUAL,
    kafka_offset BIGINT METADATA FROM 'offset' VIRTUAL,
    kafka_headers MAP<STRING, BYTES> METADATA FROM 'headers' VIRTUAL,
    heartbeat AS kafka_headers[{_quote(HEARTBEAT_HEADER)}] IS NOT NULL,
    rowtime AS {ROWTIME_EXPR},
    WATERMARK FOR rowtime AS rowtime - {interval(out_of_orderness_ms)}
) WITH (
    {_with(options)}
)"""


def events_file_source_ddl(table: str, properties: Properties, *, path: str) -> str:
    """A batch stand-in for :func:`events_source_ddl`: the same format on a file of lines."""
    options = {"connector": "filesystem", "path": path, **FORMAT_OPTIONS}
    return f"""CREATE TEMPORARY TABLE {table} (
    {_columns(properties)},
    rowtime AS {ROWTIME_EXPR}
) WITH (
    {_with(options)}
)"""


def file_events_view(view: str, file_table: str, topic: str = "file") -> str:
    """The file table with the Kafka metadata columns of :func:`events_source_ddl` (offset 0).

    Files have no headers: a record whose ``source`` is ``__heartbeat__`` plays a heartbeat.
    """
    return f"""CREATE TEMPORARY VIEW {view} AS
SELECT *, {_quote(topic)} AS kafka_topic, 0 AS kafka_partition, CAST(0 AS BIGINT) AS kafka_offset,
    COALESCE(source = '__heartbeat__', FALSE) AS heartbeat
FROM {file_table}"""


_CLASSIFIED = ("event_id", "click", "conversion", "cost", "revenue", "campaign_id", "device_type",
               "site_category", "app_category", "banner_pos")  # fmt: skip


def _passthrough(properties: Properties) -> str:
    """The properties :func:`classify_view` does not convert, as their text (the archive types them)."""
    return ", ".join(_ident(name) for name, _ in properties if name not in _CLASSIFIED)


def classify_view(
    source: str,
    properties: Properties,
    view: str = "classified_events",
    watermark: str = "CURRENT_WATERMARK(rowtime)",
) -> str:
    """Check every record; ``error_type``/``error_message`` say where it goes.

    TRY_CAST converts the text of each value: a malformed value can never fail the job.
    Integers must round-trip through their text so ``1.5`` or ``"01"`` are not silently
    truncated. ``late_event`` is decided against the watermark of this operator when the record
    arrives: ``rowtime <= CURRENT_WATERMARK(rowtime)`` (a watermark ``t`` promises that nothing at
    or before ``t`` is still to come). Batch has no watermark: tests pass ``watermark`` as an
    expression to play one.
    """
    return f"""CREATE TEMPORARY VIEW {view} AS
WITH checked AS (
    SELECT *,
        {watermark} AS current_wm,
        CASE
            WHEN event_id IS NULL OR CHAR_LENGTH(event_id) = 0 THEN 'event_id is missing'
            WHEN event_time IS NULL
                OR CAST(TRY_CAST(event_time AS BIGINT) AS STRING) IS DISTINCT FROM event_time
                OR TRY_CAST(event_time AS BIGINT) < 0
                THEN 'event_time must be a non-negative integer (epoch ms)'
            WHEN click IS NULL OR click NOT IN ('0', '1') THEN 'click must be 0 or 1'
            WHEN conversion IS NULL OR conversion NOT IN ('0', '1') THEN 'conversion must be 0 or 1'
            WHEN TRY_CAST(cost AS DECIMAL(18, 6)) IS NULL OR TRY_CAST(cost AS DECIMAL(18, 6)) < 0
                THEN 'cost must be a non-negative number'
            WHEN TRY_CAST(revenue AS DECIMAL(18, 6)) IS NULL OR TRY_CAST(revenue AS DECIMAL(18, 6)) < 0
                THEN 'revenue must be a non-negative number'
            WHEN campaign_id IS NULL OR CHAR_LENGTH(campaign_id) = 0 THEN 'campaign_id is missing'
            WHEN device_type IS NULL OR CAST(TRY_CAST(device_type AS INT) AS STRING) IS DISTINCT FROM device_type
                THEN 'device_type must be an integer'
            WHEN banner_pos IS NULL OR CAST(TRY_CAST(banner_pos AS INT) AS STRING) IS DISTINCT FROM banner_pos
                THEN 'banner_pos must be an integer'
            WHEN site_category IS NULL THEN 'site_category is missing'
            WHEN app_category IS NULL THEN 'app_category is missing'
        END AS schema_problem
    FROM {source}
)
SELECT
    kafka_topic, kafka_partition, kafka_offset, rowtime, current_wm,
    event_id,
    CAST(CASE WHEN click = '1' THEN 1 ELSE 0 END AS BIGINT) AS click,
    CAST(CASE WHEN conversion = '1' THEN 1 ELSE 0 END AS BIGINT) AS conversion,
    TRY_CAST(cost AS DECIMAL(18, 6)) AS cost,
    TRY_CAST(revenue AS DECIMAL(18, 6)) AS revenue,
    campaign_id, device_type, site_category, app_category, banner_pos,
    {PAYLOAD_COLUMN},
    {_passthrough(properties)},
    CASE
        WHEN heartbeat THEN 'heartbeat'
        WHEN {ERROR_COLUMN} IS NOT NULL THEN 'parsing'
        WHEN schema_problem IS NOT NULL THEN 'schema'
        WHEN current_wm IS NOT NULL AND rowtime <= current_wm THEN 'late_event'
    END AS error_type,
    CASE
        WHEN heartbeat THEN CAST(NULL AS STRING)
        WHEN {ERROR_COLUMN} IS NOT NULL THEN {ERROR_COLUMN}
        WHEN schema_problem IS NOT NULL THEN schema_problem
        WHEN current_wm IS NOT NULL AND rowtime <= current_wm THEN
            'event_time ' || DATE_FORMAT(rowtime, '{_TS_FORMAT}') || ' is not after the watermark '
            || DATE_FORMAT(current_wm, '{_TS_FORMAT}') || ': its windows are already final'
    END AS error_message
FROM checked"""


def on_time_view(classified: str = "classified_events", view: str = "on_time_events") -> str:
    """Valid events that arrived before the watermark passed them: the only input of the windows."""
    return f"CREATE TEMPORARY VIEW {view} AS SELECT * FROM {classified} WHERE error_type IS NULL"


def combos_view(source: str = "on_time_events", view: str = "window_combos_1m") -> str:
    """Level 1: per minute and full dimension combination; the one aggregation that sees every event."""
    return f"""CREATE TEMPORARY VIEW {view} AS
SELECT
    window_time AS combo_time,
    campaign_id, device_type, site_category, app_category, banner_pos,
    COUNT(*) AS impressions,
    SUM(click) AS clicks,
    SUM(conversion) AS conversions,
    SUM(cost) AS cost,
    SUM(revenue) AS revenue
FROM TABLE(TUMBLE(TABLE {source}, DESCRIPTOR(rowtime), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, window_time,
    campaign_id, device_type, site_category, app_category, banner_pos"""


def _decimal_operand(measure: str) -> str:
    """A summed measure as a division operand: counts are BIGINT, so they become exact
    DECIMAL(19, 0) first (the division is then DECIMAL, never integer); money already is DECIMAL."""
    return f"CAST({measure} AS DECIMAL(19, 0))" if measure in contract.COUNTS else measure


def _ratio(ratio: contract.Ratio) -> str:
    """The ratio column as the stream stores it: the exact quotient cast to the ratio type
    (rounded half-up to 6 decimals), NULL when the denominator is 0 (include/metrics_contract.py)."""
    numerator, denominator = _decimal_operand(ratio.numerator), _decimal_operand(ratio.denominator)
    return f"CAST({numerator} / NULLIF({denominator}, 0) AS {contract.STREAM_RATIO_SQL_TYPE}) AS {ratio.name}"


def _one_size(combos: str, size_s: int) -> str:
    # device_type and banner_pos are integers in the event; the job carries every value as text.
    columns = list(contract.DIMENSIONS.values())
    dimension = "\n".join(
        f"            WHEN GROUPING({col}) = 0 THEN {_quote(dim)}" for dim, col in contract.DIMENSIONS.items()
    )
    grouping_sets = ", ".join(["()", *(f"({c})" for c in columns)])
    sums = ",\n        ".join(
        [
            *(f"SUM({c}) AS {c}" for c in contract.COUNTS),
            *(f"CAST(SUM({m}) AS {contract.MONEY_SQL_TYPE}) AS {m}" for m in contract.MONEY),
        ]
    )
    return f"""SELECT
        {size_s} AS window_size_s, window_start, window_end,
        CASE
{dimension}
            ELSE {_quote(contract.ALL_DIMENSION)}
        END AS dimension,
        COALESCE({", ".join(columns)}, '') AS dimension_value,
        {sums}
    FROM TABLE(TUMBLE(TABLE {combos}, DESCRIPTOR(combo_time), INTERVAL '{size_s // 60}' MINUTE))
    GROUP BY window_start, window_end, GROUPING SETS ({grouping_sets})"""


def window_metrics_query(combos: str = "window_combos_1m") -> str:
    """Level 2: the ``realtime.ad_window_metrics`` rows (without ``updated_at``, set by PostgreSQL)."""
    union = "\n    UNION ALL\n    ".join(_one_size(combos, s) for s in contract.WINDOW_SIZES_S)
    ratios = ",\n    ".join(_ratio(r) for r in contract.RATIOS)
    return f"""SELECT
    CAST(window_size_s AS INT) AS window_size_s, window_start, window_end, dimension, dimension_value,
    {", ".join(contract.MEASURES)},
    {ratios}
FROM (
    {union}
)"""


METRICS_COLUMNS: tuple[str, ...] = contract.WINDOW_COLUMNS
"""The window row in table order: what the sinks and the tests select from ``window_metrics``."""

# Flink types of the sink's columns; the window's own columns are NOT NULL, as in the table.
_SINK_TYPES: dict[str, str] = {
    "window_size_s": "INT NOT NULL",
    "window_start": "TIMESTAMP(3) NOT NULL",
    "window_end": "TIMESTAMP(3) NOT NULL",
    "dimension": "STRING NOT NULL",
    "dimension_value": "STRING NOT NULL",
    **{c: "BIGINT" for c in contract.COUNTS},
    **{m: contract.MONEY_SQL_TYPE for m in contract.MONEY},
    **{r: contract.STREAM_RATIO_SQL_TYPE for r in contract.RATIO_NAMES},
}
_METRICS_SCHEMA = ",\n".join(f"    {c} {_SINK_TYPES[c]}" for c in METRICS_COLUMNS)


def jdbc_sink_ddl(table: str, *, url: str, sink_table: str, username: str, password: str) -> str:
    """Upsert sink on the primary key: a replayed window overwrites itself, never adds up.

    The key is the table's grain (docs/design.md "Table grains").

    Window timestamps are UTC wall-clock TIMESTAMP(3) (the job sets ``table.local-time-zone`` to
    UTC); the JDBC driver maps them to ``timestamptz`` in the TaskManager JVM's time zone, which
    must therefore be UTC (README "Time zones").
    """
    options = {
        "connector": "jdbc",
        "url": url,
        "table-name": sink_table,
        "username": username,
        "password": password,
        # Windows fire all at once: a short interval makes them visible fast (the latency benchmark).
        "sink.buffer-flush.interval": "200ms",
        "sink.buffer-flush.max-rows": "5000",
        "sink.max-retries": "5",
    }
    return f"""CREATE TEMPORARY TABLE {table} (
{_METRICS_SCHEMA},
    PRIMARY KEY ({', '.join(contract.WINDOW_KEY)}) NOT ENFORCED
) WITH (
    {_with(options)}
)"""


BATCH_WATERMARK = "CAST(NULL AS TIMESTAMP_LTZ(3))"
"""The watermark a backfill's batch job classifies with: none, so no event is late (a batch sees
every event of its range before any window is computed)."""

BACKFILL_ID_COLUMN = "backfill_id"


def staging_sink_ddl(table: str, *, url: str, staging_table: str, username: str, password: str) -> str:
    """A backfill's windows, keyed by its id: the live table only changes when they are complete.

    ``staging_table`` is ``realtime.ad_window_metrics_backfill`` (migration V006): the window row
    plus ``backfill_id``. The backfill then swaps the range's rows into the live table in one
    PostgreSQL transaction (include/backfill/swap.py).
    """
    options = {
        "connector": "jdbc",
        "url": url,
        "table-name": staging_table,
        "username": username,
        "password": password,
        "sink.buffer-flush.interval": "1s",
        "sink.buffer-flush.max-rows": "5000",
        "sink.max-retries": "5",
    }
    return f"""CREATE TEMPORARY TABLE {table} (
    {BACKFILL_ID_COLUMN} STRING NOT NULL,
{_METRICS_SCHEMA},
    PRIMARY KEY ({BACKFILL_ID_COLUMN}, {', '.join(contract.WINDOW_KEY)}) NOT ENFORCED
) WITH (
    {_with(options)}
)"""


def staging_insert(sink: str, backfill_id: str, metrics: str = "window_metrics") -> str:
    return (
        f"INSERT INTO {sink} SELECT {_quote(backfill_id)} AS {BACKFILL_ID_COLUMN}, "
        f"{', '.join(METRICS_COLUMNS)} FROM {metrics}"
    )


DLQ_COLUMNS = """    raw_payload STRING,
    error_type STRING,
    error_message STRING,
    stacktrace STRING,
    retry_count INT,
    error_timestamp STRING,
    source STRING,
    topic STRING,
    `partition` INT,
    `offset` BIGINT,
    event_id STRING"""


def metrics_sink_columns() -> str:
    return _METRICS_SCHEMA


def blackhole_sink_ddl(table: str, columns: str) -> str:
    """A sink with these columns that discards its rows: the benchmark's baseline (``--blackhole-sinks``)."""
    return f"CREATE TEMPORARY TABLE {table} (\n{columns}\n) WITH ('connector' = 'blackhole')"


HEADERS_COLUMN = "headers"


def dlq_columns(with_headers: bool) -> str:
    """The dead letter's fields, then (``with_headers``) the record's Kafka headers."""
    return DLQ_COLUMNS + (f",\n    {HEADERS_COLUMN} MAP<STRING, BYTES>" if with_headers else "")


def dlq_sink_ddl(
    table: str,
    *,
    topic: str,
    bootstrap_servers: str,
    transactional_id_prefix: str,
    with_headers: bool = False,
    exactly_once: bool = True,
    client_properties: Mapping[str, str] | None = None,
) -> str:
    """The dead-letter record as JSON, written exactly once (Kafka transactions per checkpoint).

    Its fields: docs/design.md "Dead-letter contract". ``with_headers``: each record also carries
    the headers :func:`dlq_query` gives it (the Kafka connector's writable ``headers`` metadata).

    Null fields are written as ``null`` so every record has every key, like the producer's.
    Consumers must read with ``isolation.level=read_committed`` to see each dead letter once.
    ``exactly_once=False`` (a backfill's batch job, which takes no checkpoints to commit
    transactions on): at least once.
    """
    options = {
        "connector": "kafka",
        "topic": topic,
        "properties.bootstrap.servers": bootstrap_servers,
        "format": "json",
        "json.encode.ignore-null-fields": "false",
        **_client_options(client_properties),
    }
    if exactly_once:
        options |= {
            "properties.transaction.timeout.ms": "600000",
            "sink.delivery-guarantee": "exactly-once",
            "sink.transactional-id-prefix": transactional_id_prefix,
        }
    else:
        options["sink.delivery-guarantee"] = "at-least-once"
    headers = f",\n    {HEADERS_COLUMN} MAP<STRING, BYTES> METADATA" if with_headers else ""
    return f"""CREATE TEMPORARY TABLE {table} (
{DLQ_COLUMNS}{headers}
) WITH (
    {_with(options)}
)"""


def _client_options(client_properties: Mapping[str, str] | None) -> dict[str, str]:
    return {f"properties.{key}": value for key, value in (client_properties or {}).items()}


def schema_headers_expr(schema_id: int) -> str:
    """The headers naming the dead-letter schema ``schema_id``, as a SQL constant (include/schema_headers.py:
    the same bytes the producer and the DLQ retry send, so stock deserializers find the schema)."""
    pairs = ", ".join(f"{_quote(name)}, X'{value.hex()}'" for name, value in schema_headers(schema_id))
    return f"CAST(MAP[{pairs}] AS MAP<STRING, BYTES>)"


def dlq_query(classified: str = "classified_events", schema_id: int | None = None) -> str:
    """``parsing``, ``schema`` and ``late_event`` dead letters (docs/design.md): the record's value as
    read (decoded here, on the few dead letters, not in the view every record goes through); with
    ``schema_id``, the headers that name the dead-letter schema registered under that id."""
    headers = f",\n    {schema_headers_expr(schema_id)} AS {HEADERS_COLUMN}" if schema_id else ""
    return f"""SELECT
    DECODE({PAYLOAD_COLUMN}, 'UTF-8') AS raw_payload,
    error_type,
    error_message,
    CAST(NULL AS STRING) AS stacktrace,
    0 AS retry_count,
    DATE_FORMAT(CURRENT_TIMESTAMP, '{_TS_FORMAT}') AS error_timestamp,
    'flink' AS source,
    kafka_topic AS topic,
    kafka_partition AS `partition`,
    kafka_offset AS `offset`,
    event_id{headers}
FROM {classified}
WHERE error_type IN ('parsing', 'schema', 'late_event')"""


def archive_sink_columns() -> str:
    typed = "".join(f"    {_ident(c.name)} {c.flink_type},\n" for c in archive.COLUMNS)
    return f"{typed}    dt STRING,\n    hour_of_day STRING"


def archive_sink_ddl(table: str, *, path: str) -> str:
    """Validated events as the archive contract says (include/archive.py): typed Parquet files
    under ``dt=YYYY-MM-DD/hour_of_day=HH`` of event time, ``_SUCCESS`` once an hour is complete.

    The filesystem sink writes in-progress files and only makes them visible on checkpoint
    completion: exactly once per run of the job.
    """
    return f"""CREATE TEMPORARY TABLE {table} (
{archive_sink_columns()}
) PARTITIONED BY (dt, hour_of_day) WITH (
    {_with(archive.flink_sink_options(path))}
)"""


def _archive_value(column: archive.Column) -> str:
    name = _ident(column.name)
    if column.name == "event_time":
        return f"CAST({name} AS BIGINT)"  # checked to be an integer by classify_view
    if column.name in ("click", "conversion"):
        return f"CAST({name} AS INT)"
    if column.flink_type == "STRING" or column.name in ("cost", "revenue"):
        return name
    return f"TRY_CAST({name} AS {column.flink_type})"


def archive_query(classified: str = "classified_events") -> str:
    """Every valid event (on time or late: the batch layer recomputes whole days), typed."""
    values = ",\n    ".join(f"{_archive_value(c)} AS {_ident(c.name)}" for c in archive.COLUMNS)
    return f"""SELECT
    {values},
    DATE_FORMAT(rowtime, 'yyyy-MM-dd') AS dt,
    DATE_FORMAT(rowtime, 'HH') AS hour_of_day
FROM {classified}
WHERE error_type IS NULL OR error_type = 'late_event'"""


def transform_views(
    source: str, properties: Properties, watermark: str = "CURRENT_WATERMARK(rowtime)"
) -> list[str]:
    """The CREATE VIEW statements from the events source to ``window_combos_1m``, in order."""
    return [classify_view(source, properties, watermark=watermark), on_time_view(), combos_view()]


def window_metrics_view(view: str = "window_metrics", combos: str = "window_combos_1m") -> str:
    """:func:`window_metrics_query` as a view, so PostgreSQL and Redis share one aggregation."""
    return f"CREATE TEMPORARY VIEW {view} AS\n{window_metrics_query(combos)}"


def redis_sink_ddl(table: str) -> str:
    """Where the Redis UDF's per-row counts go (the writes themselves happen in the UDF)."""
    return f"CREATE TEMPORARY TABLE {table} (written BIGINT) WITH ('connector' = 'blackhole')"


def redis_query(metrics: str = "window_metrics", udf_name: str = "cache_windows_in_redis") -> str:
    """Every final window row through the Redis UDF (see redis_cache.py for the key design)."""
    columns = [*METRICS_COLUMNS[1:], METRICS_COLUMNS[0]]  # window_size_s last: redis_cache.UDF_ARGUMENTS
    return f"SELECT {udf_name}({', '.join(columns)}) FROM {metrics}"
