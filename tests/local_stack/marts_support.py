"""The independent side of the daily ETL's tests: every per-day mart computed in DuckDB from events
made by the stream's own per-row code (``read_avazu`` + ``encode_row``, not the batch's columnar
path), compared with PostgreSQL row by row, money exactly; and the clean-up of a test's days."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.fullrun_marts import PER_DAY_MARTS, builder_conn, same
from include import config
from include.batch.days import partition_name


def cleanup(days: list[date]) -> None:
    """Remove our days from every table and file we wrote (the dims rebuild from what is left next run),
    their great-expectations Data Docs pages included."""
    import shutil

    from include.batch.days import parquet_dir
    from include.docs_sites import docs_root, remove_days

    for day in days:
        shutil.rmtree(parquet_dir(config.data_dir(), day), ignore_errors=True)
    remove_days(docs_root(), days)
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


def expected_marts(events: Any, day: date) -> dict[str, list[tuple[Any, ...]]]:
    """Every per-day mart computed in DuckDB from the events (the SQL of bench/fullrun_marts.py, the
    marts' definitions written a second time, not dbt's), in the marts' column order, sorted by key."""
    import duckdb

    from bench.fullrun_marts import expected_marts as marts_of

    con = duckdb.connect()
    con.register("events", events)
    out = marts_of(con, "events", day)
    return {table: sorted(rows, key=_key_of(table)) for table, rows in out.items()}


def _key_of(table: str) -> Any:
    width = len(PER_DAY_MARTS[table])
    return lambda row: row[:width]


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
