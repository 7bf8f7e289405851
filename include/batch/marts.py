"""After dbt: a great-expectations check on the key marts of day D, and the daily Slack summary.

The mart check reconciles the marts with each other and with the load ledger, which is what an
analyst silently relies on: the day's impressions in ``fct_daily_metrics`` equal the rows loaded
(``analytics.ad_events_loads``), the campaign and hourly marts add up to the daily totals, and CTR
is a rate. dbt's own tests check each model alone; this checks them together.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from include.batch.checkpoint import run_suite
from include.batch.validate import ValidationFailed, page_url
from include.slack_text import escape

MART_SUITE = "ad_marts_daily"

_RECONCILE_SQL = """
SELECT f.impressions, f.clicks, f.conversions, f.cost, f.revenue, f.ctr,
       l.row_count AS ledger_rows,
       (SELECT sum(impressions) FROM analytics.campaign_performance WHERE event_day = %(day)s)
           AS campaign_impressions,
       (SELECT sum(clicks) FROM analytics.campaign_performance WHERE event_day = %(day)s) AS campaign_clicks,
       (SELECT sum(cost) FROM analytics.campaign_performance WHERE event_day = %(day)s) AS campaign_cost,
       (SELECT sum(impressions) FROM analytics.mart_hourly_ctr WHERE event_day = %(day)s)
           AS hourly_impressions,
       (SELECT impressions FROM analytics.daily_impressions WHERE event_day = %(day)s) AS daily_impressions,
       (SELECT clicks FROM analytics.daily_clicks WHERE event_day = %(day)s) AS daily_clicks
FROM analytics.fct_daily_metrics f
LEFT JOIN analytics.ad_events_loads l USING (event_day)
WHERE f.event_day = %(day)s
"""


def reconcile_frame(conn: Any, day: date) -> Any:
    """One row (or none) of the day's mart totals side by side, as pandas (money as float for GX)."""
    import pandas as pd

    with conn.cursor() as cur:
        cur.execute(_RECONCILE_SQL, {"day": day})
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    frame = pd.DataFrame(rows, columns=names)
    for col in frame.columns:
        frame[col] = frame[col].astype("float64")
    return frame


def check_marts(conn: Any, day: date, docs_root: Path | None = None) -> dict[str, Any]:
    """GX suite over the reconciled totals; raises ValidationFailed naming what does not add up.

    With ``docs_root`` (setting DOCS_DIR) the result is kept as a Data Docs page, named in both.
    """
    import great_expectations as gx

    frame = reconcile_frame(conn, day)
    ex = gx.expectations
    expectations = [
        ex.ExpectTableRowCountToEqual(value=1),
        ex.ExpectColumnPairValuesToBeEqual(column_A="impressions", column_B="ledger_rows"),
        ex.ExpectColumnPairValuesToBeEqual(column_A="impressions", column_B="campaign_impressions"),
        ex.ExpectColumnPairValuesToBeEqual(column_A="impressions", column_B="hourly_impressions"),
        ex.ExpectColumnPairValuesToBeEqual(column_A="impressions", column_B="daily_impressions"),
        ex.ExpectColumnPairValuesToBeEqual(column_A="clicks", column_B="campaign_clicks"),
        ex.ExpectColumnPairValuesToBeEqual(column_A="clicks", column_B="daily_clicks"),
        ex.ExpectColumnPairValuesAToBeGreaterThanB(column_A="impressions", column_B="clicks", or_equal=True),
        ex.ExpectColumnPairValuesAToBeGreaterThanB(column_A="clicks", column_B="conversions", or_equal=True),
        ex.ExpectColumnValuesToBeBetween(column="ctr", min_value=0, max_value=1),
        ex.ExpectColumnValuesToBeBetween(column="cost", min_value=0, strict_min=True),
    ]
    run = run_suite(
        frame, MART_SUITE, expectations, source="marts", asset="daily_totals", day=day, docs_root=docs_root
    )
    url = page_url(run.page)
    if run.failures:
        raise ValidationFailed(MART_SUITE, day.isoformat(), run.failures, url)
    return {
        "day": day.isoformat(),
        "suite": MART_SUITE,
        "expectations": len(run.result.results),
        "success": True,
        "page_url": url,
    }


def day_metrics(conn: Any, day: date) -> dict[str, Any] | None:
    """The day's row of fct_daily_metrics as a dict (Decimals kept), or None when not built."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT impressions, clicks, conversions, cost, revenue, ctr, roas "
            "FROM analytics.fct_daily_metrics WHERE event_day = %s",
            (day,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))


def dlq_rate(conn: Any, day: date, impressions: int) -> float | None:
    """Dead-lettered events of the day / (events + dead letters), or None when unknowable.

    Reads ``errors.dlq_errors`` (docs/dlq.md) when it exists with an ``error_timestamp`` column; the
    DLQ tables belong to another component, so their absence is "n/a", not a failure.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = 'errors' "
            "AND table_name = 'dlq_errors' AND column_name = 'error_timestamp'"
        )
        found = cur.fetchone()
        if found is None:
            return None
        try:
            cur.execute(
                "SELECT count(*) FROM errors.dlq_errors WHERE error_timestamp >= %s AND error_timestamp < %s",
                (day, day + timedelta(days=1)),
            )
        except Exception:  # unreadable (privileges, an unexpected column type): not our table
            conn.rollback()
            return None
        dead = int(cur.fetchone()[0])
    total = impressions + dead
    return dead / total if total else None


def _fmt_change(now: Any, before: Any) -> str:
    if now is None or before is None or before == 0:
        return ""
    change = (Decimal(str(now)) - Decimal(str(before))) / Decimal(str(before)) * 100
    return f" ({change:+.1f}% vs day before)"


def run_note(day: date, extracted: dict[str, Any], today: dict[str, Any], dlq: float | None) -> str:
    """The run's note in Airflow (Markdown): what was loaded, and the day's headline metrics."""
    rejected = sum(extracted.get("rejected", {}).values())
    source = "the Flink archive" if extracted["source"] == "archive" else f"`{extracted['source_uri']}`"
    ctr = "n/a" if today["ctr"] is None else f"{float(today['ctr']):.4f}"
    roas = "n/a" if today["roas"] is None else f"{float(today['roas']):.3f}"
    lines = [
        f"**{day.isoformat()}** from {source}: {extracted['rows']:,} events loaded, {rejected:,} rejected, "
        f"{extracted.get('duplicates_dropped', 0):,} duplicates dropped",
        f"impressions {today['impressions']:,} · clicks {today['clicks']:,} · CTR {ctr} · "
        f"cost {Decimal(today['cost']):,.2f} · ROAS {roas} · DLQ rate {'n/a' if dlq is None else f'{dlq:.2%}'}",
    ]
    if extracted.get("incomplete_hours"):
        lines.append(f"hours not marked complete in the archive: {extracted['incomplete_hours']}")
    return "\n\n".join(lines)


def summary_text(
    day: date, today: dict[str, Any], previous: dict[str, Any] | None, dlq: float | None, run_id: str = ""
) -> str:
    """The Slack daily summary: impressions, clicks, CTR, cost, ROAS, DLQ rate, each vs the day before."""
    prev = previous or {}

    def ratio(value: Any, digits: int = 4) -> str:
        return "n/a" if value is None else f"{float(value):.{digits}f}"

    lines = [
        f":bar_chart: Daily ad metrics for {day.isoformat()} (dag_daily_etl run {escape(run_id)})",
        f"impressions: {today['impressions']:,}{_fmt_change(today['impressions'], prev.get('impressions'))}",
        f"clicks: {today['clicks']:,}{_fmt_change(today['clicks'], prev.get('clicks'))}",
        f"CTR: {ratio(today['ctr'])}{_fmt_change(today['ctr'], prev.get('ctr'))}",
        f"cost: {Decimal(today['cost']):,.2f}{_fmt_change(today['cost'], prev.get('cost'))}",
        f"ROAS: {ratio(today['roas'], 3)}{_fmt_change(today['roas'], prev.get('roas'))}",
        f"DLQ rate: {'n/a' if dlq is None else f'{dlq:.4%}'}",
    ]
    if previous is None:
        lines.append(f"(no marts for {(day - timedelta(days=1)).isoformat()} to compare with)")
    return "\n".join(lines)
