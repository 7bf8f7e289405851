"""The independent side of the daily ETL's tests: every per-day mart computed in DuckDB from events
made by the stream's own per-row code (``read_avazu`` + ``encode_row``, not the batch's columnar
path), compared with PostgreSQL row by row, money exactly; and the clean-up of a test's days."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from include import config
from include.batch.days import partition_name

PER_DAY_MARTS = {
    "fct_daily_metrics": ["event_day"],
    "mart_daily_ctr": ["event_day"],
    "daily_impressions": ["event_day"],
    "daily_clicks": ["event_day"],
    "mart_hourly_ctr": ["event_day", "event_hour_at"],
    "campaign_performance": ["event_day", "campaign_id"],
    "mart_device_performance": ["event_day", "device_type"],
    "mart_category_analysis": ["event_day", "traffic_type", "category"],
    "mart_banner_position": ["event_day", "banner_pos"],
    "int_hourly_agg": ["event_day", "event_hour_at", "campaign_id", "traffic_type"],
    "int_device_stats": ["event_day", "device_type", "device_conn_type"],
}


def builder_conn() -> Any:
    import psycopg

    conn = psycopg.connect(config.pg_dsn("PG_DBT"), autocommit=True)
    conn.execute(f"SET ROLE {config.get('DBT_ROLE')}")
    return conn


def cleanup(days: list[date]) -> None:
    """Remove our days from every table and file we wrote (the dims rebuild from what is left next run)."""
    import shutil

    from include.batch.days import parquet_dir

    for day in days:
        shutil.rmtree(parquet_dir(config.data_dir(), day), ignore_errors=True)
    with builder_conn() as conn:
        for day in days:
            conn.execute(f"DROP TABLE IF EXISTS analytics.{partition_name(day)}")
            conn.execute("DELETE FROM analytics.ad_events_loads WHERE event_day = %s", (day,))
            for table in PER_DAY_MARTS:
                if conn.execute("SELECT to_regclass(%s)", (f"analytics.{table}",)).fetchone()[0]:
                    conn.execute(f"DELETE FROM analytics.{table} WHERE event_day = %s", (day,))


def mart_rows(conn: Any, table: str, day: date) -> list[tuple[Any, ...]]:
    keys = ", ".join(PER_DAY_MARTS[table])
    cur = conn.execute(f"SELECT * FROM analytics.{table} WHERE event_day = %s ORDER BY {keys}", (day,))
    return [tuple(r) for r in cur.fetchall()]


def snapshot(day: date) -> dict[str, list[tuple[Any, ...]]]:
    with builder_conn() as conn:
        return {t: mart_rows(conn, t, day) for t in PER_DAY_MARTS}


def expected_events(path: Path, day: date) -> Any:
    """The day's events by the stream's own per-row code, as a DuckDB relation source (pyarrow)."""
    import pyarrow as pa

    from include.batch.days import avazu_hours
    from include.ingest.avazu_reader import read_avazu
    from include.ingest.economics import load_price_model
    from include.ingest.events import compile_validator, encode_row, load_schema

    validator, model = compile_validator(load_schema()), load_price_model()
    events, ids = [], set()
    for item in read_avazu(path, *avazu_hours(day)):
        encoded = encode_row(item, validator, model)
        assert isinstance(encoded, tuple), encoded
        e = encoded[0]
        if e["event_id"] in ids:  # an id counts once in its day: the first copy is the event
            continue
        ids.add(e["event_id"])
        events.append(
            {
                "event_id": e["event_id"],
                "event_time_ms": e["event_time"],
                "click": e["click"],
                "conversion": e["conversion"],
                "cost": Decimal(repr(e["cost"])),
                "revenue": Decimal(repr(e["revenue"])),
                "campaign_id": e["campaign_id"],
                "creative_id": e["creative_id"],
                "app_id": e["app_id"],
                "site_category": e["site_category"],
                "app_category": e["app_category"],
                "device_type": e["device_type"],
                "banner_pos": e["banner_pos"],
                "device_conn_type": e["device_conn_type"],
                "device_model": e["device_model"],
            }
        )
    schema = {"cost": pa.decimal128(18, 6), "revenue": pa.decimal128(18, 6)}
    table = pa.Table.from_pylist(events)
    for name, typ in schema.items():
        table = table.set_column(table.schema.get_field_index(name), name, table[name].cast(typ))
    return table


_EXPECTED_SQL = {
    "base": """
        CREATE TEMP TABLE ev AS SELECT *, DATE '{day}' AS event_day,
          date_trunc('hour', epoch_ms(event_time_ms)) AS event_hour_at,
          CASE WHEN app_id = 'ecad2386' THEN 'site' ELSE 'app' END AS traffic_type,
          CASE WHEN app_id = 'ecad2386' THEN site_category ELSE app_category END AS category
        FROM events""",
    "sums": "count(*) AS impressions, sum(click) AS clicks, sum(conversion) AS conversions, "
    "sum(cost) AS cost, sum(revenue) AS revenue",
}


def expected_marts(events: Any, day: date) -> dict[str, list[tuple[Any, ...]]]:
    """Every per-day mart computed in DuckDB from the events, in the marts' column order."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("events", events)
    con.execute(_EXPECTED_SQL["base"].format(day=day.isoformat()))
    s = _EXPECTED_SQL["sums"]

    def ratios(src: str = "") -> str:
        return (
            f"clicks::DECIMAL(38,18) / nullif(impressions, 0) AS ctr, cost / nullif(clicks, 0) AS cpc, "
            f"cost / nullif(conversions, 0) AS cpa, revenue / nullif(cost, 0) AS roas{src}"
        )

    q = {
        "fct_daily_metrics": f"SELECT *, {ratios()} FROM (SELECT event_day, {s}, "
        "count(DISTINCT campaign_id) AS campaigns FROM ev GROUP BY 1)",
        "mart_daily_ctr": "SELECT event_day, count(*), sum(click), sum(click) / count(*) FROM ev GROUP BY 1",
        "daily_impressions": "SELECT event_day, count(*), count(*) FILTER (traffic_type = 'site'), "
        "count(*) FILTER (traffic_type = 'app'), count(DISTINCT campaign_id) FROM ev GROUP BY 1",
        "daily_clicks": "SELECT event_day, sum(click), sum(click) FILTER (traffic_type = 'site'), "
        "sum(click) FILTER (traffic_type = 'app'), sum(conversion), count(*), sum(click) / count(*) "
        "FROM ev GROUP BY 1",
        "mart_hourly_ctr": f"SELECT *, {ratios()} FROM (SELECT event_day, event_hour_at, {s} FROM ev "
        "GROUP BY 1, 2)",
        "campaign_performance": f"SELECT *, {ratios()}, DATE '{day}' FROM (SELECT event_day, campaign_id, "
        f"{s} FROM ev GROUP BY 1, 2)",
        "mart_device_performance": f"SELECT *, {ratios()} FROM (SELECT event_day, device_type, {s} FROM ev "
        "GROUP BY 1, 2)",
        "mart_category_analysis": f"SELECT *, {ratios()} FROM (SELECT event_day, traffic_type, category, "
        f"{s} FROM ev GROUP BY 1, 2, 3)",
        "mart_banner_position": f"SELECT *, {ratios()} FROM (SELECT event_day, banner_pos, {s} FROM ev "
        "GROUP BY 1, 2)",
        "int_hourly_agg": f"SELECT event_day, event_hour_at, campaign_id, traffic_type, {s}, "
        "count(DISTINCT creative_id) FROM ev GROUP BY 1, 2, 3, 4",
        "int_device_stats": f"SELECT event_day, device_type, device_conn_type, {s}, "
        "count(DISTINCT device_model) FROM ev GROUP BY 1, 2, 3",
    }
    out = {}
    for table, sql in q.items():
        keys = ", ".join(str(i + 1) for i in range(len(PER_DAY_MARTS[table])))
        out[table] = [tuple(r) for r in con.execute(f"{sql} ORDER BY {keys}").fetchall()]
    return out


def same(actual: Any, expected: Any) -> bool:
    """Equality per value: exact for ints, text, dates and money; 1e-12 for the ratios (NUMERIC vs DECIMAL)."""
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(actual, Decimal) or isinstance(expected, Decimal | float):
        return abs(Decimal(str(actual)) - Decimal(str(expected))) <= Decimal("1e-12")
    return actual == expected


def assert_marts_equal(
    actual: dict[str, list[tuple[Any, ...]]], expected: dict[str, list[tuple[Any, ...]]]
) -> None:
    for table, rows in expected.items():
        got = actual[table]
        assert len(got) == len(rows), f"{table}: {len(got)} rows, expected {len(rows)}"
        for g, e in zip(got, rows, strict=True):
            assert len(g) == len(e), f"{table}: columns {g} vs {e}"
            bad = [(i, a, b) for i, (a, b) in enumerate(zip(g, e, strict=True)) if not same(a, b)]
            assert not bad, f"{table} row {g[:4]}: (column, actual, expected) {bad}"
