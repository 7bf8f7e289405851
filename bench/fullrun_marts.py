"""Every per-day mart computed independently in DuckDB, and compared with PostgreSQL's ``analytics``.

The SQL is that of the daily ETL's integration tests (the marts' definitions written a second time,
not dbt's): here it runs over the full run's oracle events of one day (bench/fullrun_oracle.py),
inside the oracle's DuckDB database, so a 4M-event day stays out of core. Rows are matched by
their key columns (no reliance on two databases sorting text alike); money is compared exactly,
ratios to 1e-12 (PostgreSQL divides as ``numeric``, DuckDB as ``DECIMAL``/``DOUBLE``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from include import config

# Mart -> its key columns (its first columns, in order).
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

_BASE = """
    CREATE OR REPLACE TEMP TABLE ev AS SELECT *, DATE '{day}' AS event_day,
      date_trunc('hour', epoch_ms(event_time_ms)) AS event_hour_at,
      CASE WHEN app_id = 'ecad2386' THEN 'site' ELSE 'app' END AS traffic_type,
      CASE WHEN app_id = 'ecad2386' THEN site_category ELSE app_category END AS category
    FROM {source}"""
_SUMS = (
    "count(*) AS impressions, sum(click) AS clicks, sum(conversion) AS conversions, "
    "sum(cost) AS cost, sum(revenue) AS revenue"
)
_RATIOS = (
    "clicks::DECIMAL(38,18) / nullif(impressions, 0) AS ctr, cost / nullif(clicks, 0) AS cpc, "
    "cost / nullif(conversions, 0) AS cpa, revenue / nullif(cost, 0) AS roas"
)


@dataclass
class MartComparison:
    day: date
    rows: int
    differences: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return self.rows > 0 and not self.differences


def expected_marts(
    con: Any, source: str, day: date, first_seen: str | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """Every per-day mart of ``day`` from the events of relation ``source`` (DuckDB), mart column order.

    ``source`` has the columns event_id, event_time_ms, click, conversion, cost, revenue (DECIMAL),
    campaign_id, creative_id, app_id, site_category, app_category, device_type, banner_pos,
    device_conn_type, device_model. ``campaign_performance`` ends with the campaign's first day in
    any loaded day (``dim_campaigns``): relation ``first_seen`` (campaign_id, first_seen_day), or
    ``day`` itself when no earlier day is loaded.
    """
    con.execute("SET TimeZone = 'UTC'")
    con.execute(_BASE.format(day=day.isoformat(), source=source))
    s = _SUMS
    by_campaign = f"SELECT *, {_RATIOS} FROM (SELECT event_day, campaign_id, {s} FROM ev GROUP BY 1, 2)"
    campaigns = (
        f"SELECT *, DATE '{day}' FROM ({by_campaign})"
        if first_seen is None
        else f"SELECT c.*, f.first_seen_day FROM ({by_campaign}) c JOIN {first_seen} f USING (campaign_id)"
    )
    q = {
        "fct_daily_metrics": f"SELECT *, {_RATIOS} FROM (SELECT event_day, {s}, "
        "count(DISTINCT campaign_id) AS campaigns FROM ev GROUP BY 1)",
        "mart_daily_ctr": "SELECT event_day, count(*), sum(click), sum(click) / count(*) FROM ev GROUP BY 1",
        "daily_impressions": "SELECT event_day, count(*), count(*) FILTER (traffic_type = 'site'), "
        "count(*) FILTER (traffic_type = 'app'), count(DISTINCT campaign_id) FROM ev GROUP BY 1",
        "daily_clicks": "SELECT event_day, sum(click), sum(click) FILTER (traffic_type = 'site'), "
        "sum(click) FILTER (traffic_type = 'app'), sum(conversion), count(*), sum(click) / count(*) "
        "FROM ev GROUP BY 1",
        "mart_hourly_ctr": f"SELECT *, {_RATIOS} FROM (SELECT event_day, event_hour_at, {s} FROM ev "
        "GROUP BY 1, 2)",
        "campaign_performance": campaigns,
        "mart_device_performance": f"SELECT *, {_RATIOS} FROM (SELECT event_day, device_type, {s} FROM ev "
        "GROUP BY 1, 2)",
        "mart_category_analysis": f"SELECT *, {_RATIOS} FROM (SELECT event_day, traffic_type, category, "
        f"{s} FROM ev GROUP BY 1, 2, 3)",
        "mart_banner_position": f"SELECT *, {_RATIOS} FROM (SELECT event_day, banner_pos, {s} FROM ev "
        "GROUP BY 1, 2)",
        "int_hourly_agg": f"SELECT event_day, event_hour_at, campaign_id, traffic_type, {s}, "
        "count(DISTINCT creative_id) FROM ev GROUP BY 1, 2, 3, 4",
        "int_device_stats": f"SELECT event_day, device_type, device_conn_type, {s}, "
        "count(DISTINCT device_model) FROM ev GROUP BY 1, 2, 3",
    }
    out = {table: [tuple(r) for r in con.execute(sql).fetchall()] for table, sql in q.items()}
    con.execute("DROP TABLE ev")
    return out


def first_seen_table(con: Any, pg: Any, day: date, run_days: list[date], name: str = "first_seen") -> str:
    """``name``: each campaign's first day among the days loaded when ``day`` was built.

    ``dim_campaigns`` spans every loaded day, not only this run's: the run's own days up to
    ``day`` (the backfill builds them in order) from the oracle's events, and every other loaded
    day as PostgreSQL has it now (``int_hourly_agg``: the days other work loaded).
    """
    import pyarrow as pa

    other = pg.execute(
        "SELECT campaign_id, min(event_day) FROM analytics.int_hourly_agg WHERE NOT event_day = ANY(%s) "
        "GROUP BY 1",
        (run_days,),
    ).fetchall()
    others = pa.table(
        {
            "campaign_id": pa.array([c for c, _ in other], pa.string()),
            "day": pa.array([d for _, d in other], pa.date32()),
        }
    )
    con.register("other_first_seen", others)
    end_ms = int((datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)).timestamp() * 1000)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {name} AS
            SELECT campaign_id, min(day) AS first_seen_day FROM (
              SELECT campaign_id, epoch_ms(min(event_time_ms))::DATE AS day FROM events
              WHERE event_time_ms < {end_ms} GROUP BY 1
              UNION ALL SELECT campaign_id, day FROM other_first_seen
            ) GROUP BY 1"""
    )
    con.unregister("other_first_seen")
    return name


def builder_conn() -> Any:
    """The dbt login working as the builder role (it reads every mart, intermediates included)."""
    import psycopg

    conn = psycopg.connect(config.pg_dsn("PG_DBT"), autocommit=True)
    conn.execute(f"SET ROLE {config.get('DBT_ROLE')}")
    return conn


def actual_marts(conn: Any, day: date) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: [
            tuple(r) for r in conn.execute(f"SELECT * FROM analytics.{table} WHERE event_day = %s", (day,))
        ]
        for table in PER_DAY_MARTS
    }


def same(actual: Any, expected: Any) -> bool:
    """Exact for ints, text, dates and money; 1e-12 for the ratios (numeric vs DECIMAL/DOUBLE)."""
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(actual, Decimal) or isinstance(expected, Decimal | float):
        return abs(Decimal(str(actual)) - Decimal(str(expected))) <= Decimal("1e-12")
    return actual == expected


def compare(
    day: date,
    actual: dict[str, list[tuple[Any, ...]]],
    expected: dict[str, list[tuple[Any, ...]]],
    limit: int = 10,
) -> MartComparison:
    """Rows matched on their key columns; every missing, extra or different row is a difference."""
    differences: list[str] = []
    rows = 0
    for table, keys in PER_DAY_MARTS.items():
        width = len(keys)
        got = {r[:width]: r for r in actual.get(table, [])}
        want = {r[:width]: r for r in expected[table]}
        rows += len(want)
        for key in sorted(got.keys() | want.keys(), key=str):
            g, w = got.get(key), want.get(key)
            if g is None or w is None:
                differences.append(
                    f"{table} {key}: {'missing from PostgreSQL' if g is None else 'not expected'}"
                )
            elif len(g) != len(w):
                differences.append(f"{table} {key}: {len(g)} columns, expected {len(w)}")
            else:
                bad = [(i, a, b) for i, (a, b) in enumerate(zip(g, w, strict=True)) if not same(a, b)]
                if bad:
                    differences.append(f"{table} {key}: (column, actual, expected) {bad}")
    if len(differences) > limit:
        differences = [*differences[:limit], f"... and {len(differences) - limit} more"]
    return MartComparison(day, rows, differences)
