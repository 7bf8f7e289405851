"""The stream and the batch must agree: a day's marts against the same day's streamed windows.

Both layers see the same events (the job archives exactly the events it validates; the daily ETL
reads that archive), so for a day without late events the marts equal the sums of the 1-minute
windows, to the micro-unit: per day, per hour and per campaign. Used by ``make demo`` and the full
run; read with the dashboard login (it reads ``realtime`` and ``analytics``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

MEASURES = ("impressions", "clicks", "conversions", "cost", "revenue")

_WINDOWS = """
SELECT {key}, sum(impressions), sum(clicks), sum(conversions), sum(cost), sum(revenue)
FROM realtime.ad_window_metrics
WHERE window_size_s = 60 AND dimension = %(dimension)s
  AND window_start >= %(day)s::timestamp AT TIME ZONE 'UTC'
  AND window_start < (%(day)s::date + 1)::timestamp AT TIME ZONE 'UTC'
GROUP BY 1 ORDER BY 1
"""

# (what, mart query, dimension and key of the windows); every query returns key + MEASURES.
_LEVELS = (
    (
        "day",
        "SELECT event_day::text, impressions, clicks, conversions, cost, revenue "
        "FROM analytics.fct_daily_metrics WHERE event_day = %(day)s",
        "all",
        "(window_start AT TIME ZONE 'UTC')::date::text",
    ),
    (
        "hour",
        "SELECT to_char(event_hour_at, 'HH24'), impressions, clicks, conversions, cost, "
        "revenue FROM analytics.mart_hourly_ctr WHERE event_day = %(day)s ORDER BY 1",
        "all",
        "to_char(window_start AT TIME ZONE 'UTC', 'HH24')",
    ),
    (
        "campaign",
        "SELECT campaign_id, impressions, clicks, conversions, cost, revenue "
        "FROM analytics.campaign_performance WHERE event_day = %(day)s ORDER BY 1",
        "campaign",
        "dimension_value",
    ),
)


@dataclass(frozen=True)
class Reconciliation:
    day: date
    rows_compared: int
    differences: list[str]

    @property
    def equal(self) -> bool:
        return not self.differences


def _rows(conn: Any, sql: str, params: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return {str(r[0]): tuple(Decimal(v) for v in r[1:]) for r in cur.fetchall()}


def reconcile_day(conn: Any, day: date) -> Reconciliation:
    """Compares the marts of ``day`` with its 1-minute windows; lists every difference."""
    differences: list[str] = []
    compared = 0
    for level, mart_sql, dimension, key in _LEVELS:
        params = {"day": day, "dimension": dimension}
        marts = _rows(conn, mart_sql, params)
        windows = _rows(conn, _WINDOWS.format(key=key), params)
        compared += len(marts)
        for k in sorted(marts.keys() | windows.keys()):
            got, want = marts.get(k), windows.get(k)
            if got != want:
                differences.append(f"{level} {k}: marts {_fmt(got)} vs windows {_fmt(want)}")
    return Reconciliation(day, compared, differences)


def _fmt(values: tuple[Any, ...] | None) -> str:
    if values is None:
        return "missing"
    return "(" + ", ".join(f"{m}={v}" for m, v in zip(MEASURES, values, strict=True)) + ")"
