"""Streamlit dashboards of the ad-events pipeline: Live, Daily and Pipeline pages.

    streamlit run dashboard/app.py          # the stack runs it under supervisord (port STREAMLIT_PORT)

Numbers come from dashboard/queries.py (Redis first, PostgreSQL as fallback, the dbt marts,
Prometheus) and are formatted by dashboard/metrics.py; docs/dashboards.md says where each one comes
from. Every page refreshes itself (DASHBOARD_REFRESH_S) and shows a message, never a traceback, when
a source is down or empty.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from dashboard import metrics as m  # noqa: E402
from dashboard import queries as q  # noqa: E402
from include.metrics_contract import MEASURES, RATIO_NAMES, WINDOW_SIZES_S  # noqa: E402

SIZE_LABEL = {s: f"{s // 60}m" for s in WINDOW_SIZES_S}
LONGEST = max(WINDOW_SIZES_S)  # the Top campaigns table sums the longest windows of the span
KPIS = ("impressions", "clicks", "ctr", "roas", "cost", "revenue", "cpc", "cpa")
KPI_TITLE = {**{c: c.capitalize() for c in MEASURES}, **{r: r.upper() for r in RATIO_NAMES}}


def _titled(*kpis: str) -> dict[str, str]:
    """Table headers of these KPI columns, in this order."""
    return {k: KPI_TITLE[k] for k in kpis}


def _cfg() -> dict[str, str]:
    return q.settings()


def _refresh_s() -> float:
    try:
        return max(1.0, float(_cfg()["DASHBOARD_REFRESH_S"]))
    except (KeyError, ValueError):
        return 10.0


def _guard(render: Any, stamp: bool = False) -> None:
    """Run a page body; any error becomes one short message (the page stays usable).

    ``stamp``: end with "Rendered <time>" (the last element of a finished run of a page body).
    """
    try:
        render()
    except Exception as exc:
        st.error(f"This part of the page could not be drawn: {type(exc).__name__}: {str(exc)[:300]}")
    if stamp:
        st.caption(f"Rendered {m.fmt_time(datetime.now(UTC))}")


def _table(rows: list[dict[str, Any]], columns: dict[str, str], key: str) -> None:
    """A static table (HTML, not a canvas: readable by people, screen readers and the browser test)."""
    frame = pd.DataFrame([m.format_row(r, columns) for r in rows], columns=list(columns)).rename(
        columns=columns
    )
    st.table(frame, hide_index=True)
    st.caption(f"{len(rows)} row(s)", help=key)


def _delta(kpi: str, now: Any, before: Any) -> str | None:
    """Change against the previous window, in the KPI's own unit (percentage points for CTR)."""
    if now is None or before is None:
        return None
    diff = m.to_decimal(now) - m.to_decimal(before)  # type: ignore[operator]
    if kpi == "ctr":
        return f"{diff * 100:+.2f} pp"
    sign = "-" if diff < 0 else "+"
    return sign + m.KPI_FORMATS[kpi](abs(diff))


# ------------------------------------------------------------------------------------------ Live


def live_page() -> None:
    st.title("Live")
    st.caption("1-minute and 5-minute event-time windows of the Flink job. Refreshes every "
               f"{_refresh_s():.0f} s.")  # fmt: skip

    @st.fragment(run_every=_refresh_s())
    def body() -> None:
        _guard(_live_body, stamp=True)

    body()


def _live_body() -> None:
    cfg = _cfg()
    data = q.load_live(cfg)
    source = {
        "redis": "Redis (Flink job cache)",
        "postgresql": f"PostgreSQL ({cfg['DASHBOARD_WINDOW_TABLE']})",
    }
    if data.source == "none":
        st.error("No live data source is reachable. " + "; ".join(data.notes))
        return
    st.markdown(f"**Source:** {source[data.source]}" + (f" — {'; '.join(data.notes)}" if data.notes else ""))
    if data.empty:
        st.info(
            "No window yet. Start a replay (Airflow DAG `dag_avazu_replay`, or "
            "`python -m include.ingest.replay --file samples/avazu_sample_100.csv`) with the Flink job "
            "deployed: windows appear once the watermark passes their end."
        )
        return

    latest_end = data.latest_end()
    fresh = m.freshness_s(latest_end)
    dlq = q.dlq_rate(cfg["PROMETHEUS_URL"])
    c1, c2, c3 = st.columns([1, 1.6, 1])
    c1.metric("Data freshness", m.fmt_seconds(fresh), help="Now minus the end of the newest closed window.")
    c2.metric("Newest window end", m.fmt_time(latest_end))
    c3.metric(
        "DLQ rate (5 min)",
        m.fmt_pct(dlq) if dlq is not None else "no traffic",
        help="Dead letters / (valid + dead letters) on the Kafka topics, from Prometheus.",
    )

    for size_s in WINDOW_SIZES_S:
        latest, prev = data.latest(size_s), data.previous(size_s)
        label = SIZE_LABEL[size_s]
        st.subheader(f"Last {label} window" + (f" · {m.fmt_time(latest.start)}" if latest else ""))
        if latest is None:
            st.info(f"No {label} window yet.")
            continue
        for row in (KPIS[:4], KPIS[4:]):
            for col, kpi in zip(st.columns(len(row)), row, strict=True):
                now_v = getattr(latest, kpi)
                col.metric(
                    f"{label} {KPI_TITLE[kpi]}",
                    m.KPI_FORMATS[kpi](now_v),
                    delta=_delta(kpi, now_v, getattr(prev, kpi)) if prev else None,
                    delta_color="off" if kpi in ("cost", "cpc", "cpa") else "normal",
                )

    st.subheader("Trends")
    size_s = st.radio(
        "Window size", WINDOW_SIZES_S, format_func=lambda s: SIZE_LABEL[s], horizontal=True, key="trend"
    )
    rows = data.totals.get(size_s) or []
    if rows:
        frame = pd.DataFrame([w.as_dict() for w in rows]).set_index("window_start").sort_index()
        charts = st.columns(len(RATIO_NAMES))
        for col, kpi in zip(charts, RATIO_NAMES, strict=True):
            col.caption(f"{KPI_TITLE[kpi]} per {SIZE_LABEL[size_s]} window")
            col.line_chart(frame[kpi].astype(float), height=180)
    else:
        st.info(f"No {SIZE_LABEL[size_s]} window yet.")

    limit = int(cfg["DASHBOARD_TOP_CAMPAIGNS"])
    st.subheader(
        f"Top campaigns · {SIZE_LABEL[LONGEST]} windows of the last {cfg['DASHBOARD_TREND_MINUTES']} min"
    )
    top: list[dict[str, Any]] = []
    # The longest windows that have campaign rows: shorter ones close first after a start.
    for size_s in sorted(WINDOW_SIZES_S, reverse=True):
        top = top or data.top_campaigns(size_s, limit)
    if top:
        columns = {"key": "Campaign", **_titled("impressions", "clicks", "ctr", "cost", "cpc", "cpa", "roas")}
        _table(top, columns, "top_campaigns")
    else:
        st.info("No campaign rows in these windows.")


# ------------------------------------------------------------------------------------------ Daily


def daily_page() -> None:
    st.title("Daily")
    st.caption("The dbt marts of the daily batch (schema analytics).")
    params = st.query_params
    day_from, day_to = q.parse_day(params.get("from")), q.parse_day(params.get("to"))

    @st.fragment(run_every=max(_refresh_s(), 60))
    def body() -> None:
        _guard(lambda: _daily_body(day_from, day_to), stamp=True)

    body()


def _daily_body(day_from: date | None, day_to: date | None) -> None:
    try:
        data = q.load_daily(day_from, day_to, _cfg())
    except Exception as exc:
        st.error(f"PostgreSQL is not reachable: {type(exc).__name__}")
        return
    if "days" in data.errors:
        st.warning(f"The marts are not built yet ({data.errors['days']}). Run `dag_daily_etl` for a day.")
        return
    if data.empty and day_from and day_to:
        st.info(f"No mart rows for {day_from} to {day_to}: pick days the daily batch has loaded.")
        return
    if data.empty:
        st.info("No day in the marts yet: trigger `dag_daily_etl` (Airflow) for a day with events.")
        return
    st.markdown(f"**Days:** {data.day_from} to {data.day_to}")
    daily = data.tables["daily"]
    last = daily[-1]
    cols = st.columns(6)
    for col, kpi in zip(cols, ("impressions", "clicks", "ctr", "cpc", "cpa", "roas"), strict=True):
        col.metric(f"{last['event_day']} {KPI_TITLE[kpi]}", m.KPI_FORMATS[kpi](last[kpi]))

    st.subheader("CTR trend")
    trend = data.tables.get("ctr_trend") or []
    if trend:
        frame = pd.DataFrame(trend).set_index("event_day")
        st.line_chart(frame["ctr"].astype(float), height=220)
        _table(trend, {"event_day": "Day", **_titled("impressions", "clicks", "ctr")}, "ctr_trend")

    sections = (
        ("device", "Device performance", {"device_type": "Device type"}),
        ("category", "Category analysis (top 15)", {"traffic_type": "Traffic", "category": "Category"}),
        ("banner", "Banner position", {"banner_pos": "Banner position"}),
    )
    for key, title, keys in sections:
        st.subheader(title)
        if key in data.errors:
            st.warning(f"Not available: {data.errors[key]}")
            continue
        rows = data.tables.get(key) or []
        if not rows:
            st.info("No rows for these days.")
            continue
        _table(rows, {**keys, **_titled("impressions", "clicks", *RATIO_NAMES)}, key)


# ------------------------------------------------------------------------------------------ Pipeline


def pipeline_page() -> None:
    st.title("Pipeline")
    st.caption("Prometheus: the recording rules of local_stack/monitoring/rules/pipeline.yml, last 30 min.")

    @st.fragment(run_every=_refresh_s())
    def body() -> None:
        _guard(_pipeline_body, stamp=True)

    body()


def _pipeline_body() -> None:
    base = _cfg()["PROMETHEUS_URL"]
    try:
        q.prom_get(base, "/api/v1/query", {"query": "up"}, timeout=3)
    except Exception as exc:
        st.error(f"Prometheus at {base} is not reachable ({type(exc).__name__}): `make status`.")
        return
    panels = list(q.PIPELINE_PANELS.items())
    for i in range(0, len(panels), 2):
        cols = st.columns(2)
        for col, (key, panel) in zip(cols, panels[i : i + 2], strict=False):
            with col:
                st.markdown(f"**{panel['title']}**")
                _guard(lambda p=panel, k=key: _prom_panel(base, k, p))


def _prom_panel(base: str, key: str, panel: dict[str, str]) -> None:
    rows = [r for r in q.prom_range(base, panel["expr"]) if r["value"] == r["value"]]  # NaN: no traffic
    if not rows:
        st.info(panel["empty"])
        return
    legend = panel["legend"]
    frame = pd.DataFrame(
        {"time": r["time"], "series": r["metric"].get(legend, "") if legend else "value", "value": r["value"]}
        for r in rows
    )
    if panel["unit"] == "%":
        frame["value"] = frame["value"] * 100
    wide = frame.pivot_table(index="time", columns="series", values="value", aggfunc="last")
    current = frame.sort_values("time").groupby("series").last()["value"]
    summary = ", ".join((f"{s}: " if legend else "") + f"{v:,.3g}{panel['unit']}" for s, v in current.items())
    st.caption(f"now: {summary}")
    st.line_chart(wide, height=200)


def main() -> None:
    st.set_page_config(page_title="Ad events", layout="wide")
    pages = [
        st.Page(live_page, title="Live", url_path="live", default=True),
        st.Page(daily_page, title="Daily", url_path="daily"),
        st.Page(pipeline_page, title="Pipeline", url_path="pipeline"),
    ]
    st.navigation(pages).run()


main()
