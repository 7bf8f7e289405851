"""Streamlit dashboards of the ad-events pipeline: Live, Daily and Pipeline pages.

    streamlit run dashboard/app.py          # the stack runs it under supervisord (port STREAMLIT_PORT)

Numbers come from dashboard/queries.py (Redis first, PostgreSQL as fallback, the dbt marts,
Prometheus) and are formatted by dashboard/metrics.py; docs/dashboards.md says where each one comes
from. Every page refreshes itself (DASHBOARD_REFRESH_S) and shows a message, never a traceback, when
a source is down or empty.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
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


def _refreshing(render: Callable[[], None], every_s: float) -> None:
    """Draw a page body now and again every ``every_s`` seconds, guarded and stamped (:func:`_guard`).

    The body is a Streamlit fragment: only it reruns, so the page's title and controls stay put.
    Streamlit tells fragments apart by their function's name, so the fragment takes ``render``'s.
    """

    @st.fragment(run_every=every_s)
    @functools.wraps(render)
    def body() -> None:
        _guard(render, stamp=True)

    body()


def _table(rows: list[dict[str, Any]], columns: dict[str, str], key: str) -> None:
    """A static table (HTML, not a canvas: readable by people, screen readers and the browser test)."""
    frame = pd.DataFrame([m.format_row(r, columns) for r in rows], columns=list(columns)).rename(
        columns=columns
    )
    st.table(frame, hide_index=True)
    st.caption(f"{len(rows)} row(s)", help=key)


def _kpi_tile(col: Any, label: str, kpi: str, now: Any, before: Any, has_before: bool) -> None:
    """A KPI with its change: green/red by which way is good for it, grey and no arrow when nothing
    changed (metrics.DELTA_COLOR, metrics.is_zero)."""
    delta = m.kpi_delta(kpi, now, before) if has_before else None
    zero = delta is not None and m.is_zero(delta)
    col.metric(
        label,
        m.KPI_FORMATS[kpi](now),
        delta=delta,
        delta_color="off" if zero else m.DELTA_COLOR.get(kpi, "normal"),
        delta_arrow="off" if zero else "auto",
    )


def _status_tile(col: Any, label: str, value: str, lvl: str | None, note: str | None, help_text: str) -> None:
    """A number coloured by its level, with a short note in the same colour saying what it means."""
    color = m.LEVEL_COLOR.get(lvl or "", "gray")
    col.metric(
        label,
        m.coloured(value, lvl),
        delta=note,
        delta_color=color,  # type: ignore[arg-type]
        delta_arrow="off",
        help=help_text,
    )


# ------------------------------------------------------------------------------------------ Live


def live_page() -> None:
    st.title("Live")
    st.caption("1-minute and 5-minute event-time windows of the Flink job. Refreshes every "
               f"{_refresh_s():.0f} s.")  # fmt: skip

    _refreshing(_live_body, _refresh_s())


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
    _freshness(cfg, latest_end)
    for size_s in WINDOW_SIZES_S:
        latest, prev = data.latest(size_s), data.previous(size_s)
        label = SIZE_LABEL[size_s]
        st.subheader(f"Last {label} window" + (f" · {m.fmt_time(latest.start)}" if latest else ""))
        if latest is None:
            st.info(f"No {label} window yet.")
            continue
        for row in (KPIS[:4], KPIS[4:]):
            for col, kpi in zip(st.columns(len(row)), row, strict=True):
                before = getattr(prev, kpi) if prev else None
                _kpi_tile(
                    col, f"{label} {KPI_TITLE[kpi]}", kpi, getattr(latest, kpi), before, prev is not None
                )

    st.subheader("Trends")
    size_s = st.radio(
        "Window size", WINDOW_SIZES_S, format_func=lambda s: SIZE_LABEL[s], horizontal=True, key="trend"
    )
    rows = data.totals.get(size_s) or []
    if rows:
        frame = pd.DataFrame([w.as_dict() for w in rows]).set_index("window_start").sort_index()
        frame["ctr"] = frame["ctr"].astype(float) * 100  # read as a percentage, like the tiles
        charts = st.columns(len(RATIO_NAMES))
        for col, kpi in zip(charts, RATIO_NAMES, strict=True):
            unit = {"ctr": " (%)", "cpc": " ($)", "cpa": " ($)", "roas": " (x)"}[kpi]
            col.caption(f"{KPI_TITLE[kpi]}{unit} per {SIZE_LABEL[size_s]} window (UTC)")
            with col:
                _trend_chart(frame[kpi].astype(float), kpi)
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


# Why a ratio has no value in a window (its denominator is zero there).
NO_RATIO = {"ctr": "no impressions", "cpc": "no clicks", "cpa": "no conversions", "roas": "no cost"}


def _time_x(times: pd.Series, field: str = "time") -> Any:
    """A time axis in UTC (the captions say UTC; Vega-Lite would use the browser's time zone) with
    labels a few minutes apart, so a short span never repeats the same "03:43" label."""
    import altair as alt

    span_min = (times.max() - times.min()).total_seconds() / 60 if len(times) > 1 else 0.0
    # About six ticks: Vega picks the nice interval nearest to that count, which is a minute or
    # more beyond 10 minutes; within 10 minutes ticks may be seconds apart, so they show seconds.
    fmt = "%H:%M:%S" if span_min <= 10 else "%H:%M"
    axis = alt.Axis(format=fmt, labelOverlap=True, tickCount=6)
    return alt.X(f"{field}:T", title=None, axis=axis, scale=alt.Scale(type="utc"))


def _trend_chart(values: pd.Series, kpi: str) -> None:
    """One ratio over the windows: points joined by a line (a single window is still a dot), or a
    note when no window has the ratio (its denominator is zero everywhere), not an empty plot."""
    import altair as alt

    frame = pd.DataFrame({"time": values.index, "value": values.to_numpy()}).dropna()
    if frame.empty:
        st.caption(f"No {KPI_TITLE[kpi]} in these windows ({NO_RATIO[kpi]}).")
        return
    chart = (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=16))
        .encode(
            x=_time_x(frame["time"]),
            # ~g: "0.05", "4", "100" (Vega's default reads a flat zero line as "0.000000")
            y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=True), axis=alt.Axis(format=",.3~g")),
            tooltip=[
                alt.Tooltip("utchoursminutes(time):T", title="window start (UTC)"),
                alt.Tooltip("value:Q", title=KPI_TITLE[kpi], format=",.4~f"),
            ],
        )
    )
    st.altair_chart(chart.properties(height=180), width="stretch")


def _freshness(cfg: dict[str, str], latest_end: datetime | None) -> None:
    """Event-time lag, time since the last write, DLQ rate and result latency, each coloured by its
    alert levels, and a caption saying how to read them (replayed history vs live data)."""
    now = datetime.now(UTC)
    lag = m.freshness_s(latest_end, now)
    try:
        updated = q.last_update(cfg)
    except Exception:  # PostgreSQL down: the Redis windows are still worth showing
        updated = None
    age = m.freshness_s(updated, now)
    dlq = q.dlq_rate(cfg["PROMETHEUS_URL"])
    latency = q.e2e_latency(cfg["PROMETHEUS_URL"])
    replay = lag is not None and lag >= m.REPLAY_LAG_S

    c1, c2, c3, c4 = st.columns(4)
    if replay:
        _status_tile(c1, "Event-time lag", m.fmt_seconds(lag), None, "replayed history",
                     "Now minus the end of the newest closed window, in event time.")  # fmt: skip
    else:
        lvl = m.level(lag, *m.FRESHNESS_LEVELS)
        _status_tile(c1, "Event-time lag", m.fmt_seconds(lag), lvl, _level_note(lvl, m.FRESHNESS_LEVELS, "s"),
                     "Now minus the end of the newest closed window, in event time.")  # fmt: skip
    lvl = m.level(age, *m.UPDATE_LEVELS)
    _status_tile(
        c2,
        "Last update",
        f"{m.fmt_seconds(age)} ago" if age is not None else m.NA,
        lvl,
        f"at {m.fmt_clock(updated)}" if updated else "PostgreSQL not reachable",
        "Now minus when the job last wrote one of the newest windows to PostgreSQL (wall clock).",
    )
    warn, alert = q.dlq_levels(cfg)
    lvl = m.level(dlq, warn, alert)
    _status_tile(
        c3,
        "DLQ rate (5 min)",
        m.fmt_pct(dlq) if dlq is not None else "no traffic",
        lvl,
        _level_note(lvl, (warn, alert), "%") if dlq is not None else None,
        f"Dead letters / (valid + dead letters) on the Kafka topics, from Prometheus. dag_dlq_alert "
        f"warns from {m.fmt_pct(warn, 1)} and alerts from {m.fmt_pct(alert, 0)}.",
    )
    lvl = m.level(latency, *m.LATENCY_LEVELS)
    _status_tile(
        c4,
        "Result latency",
        m.fmt_seconds(latency) if latency is not None else "no live window",
        lvl,
        _level_note(lvl, m.LATENCY_LEVELS, "s") if latency is not None else None,
        "How long after the watermark passed its end the newest live window reached PostgreSQL "
        "(Prometheus adevents:e2e_latency_seconds; EndToEndLatencyHigh fires above 5 s). Replays of "
        "past days have no live window.",
    )
    st.caption(freshness_caption(latest_end, lag, age, replay))


def freshness_caption(latest_end: datetime | None, lag: float | None, age: float | None, replay: bool) -> str:
    newest = f"Newest window end: {m.fmt_time(latest_end)} (event time)."
    if replay:
        days = int((lag or 0) // 86400)
        alive = (
            f"the job last wrote a window {m.fmt_seconds(age)} ago, which is the number that says "
            "whether the pipeline is working."
            if age is not None
            else "when the job last wrote a window is unknown (PostgreSQL not reachable)."
        )
        return (
            f"{newest} These are replayed historical events (the Avazu data is from 2014): their event "
            f"time is {days:,} days behind the clock, which is the age of the data, not a delay; {alive}"
        )
    return (
        f"{newest} Event-time lag is now minus that end: a 1-minute window closes about 5 s after it "
        "ends (the watermark), so about a minute is normal. Last update is when the job last wrote a "
        "window (wall clock): when it grows while events flow, the job is stuck."
    )


def _level_note(lvl: str | None, levels: tuple[float, float], unit: str) -> str | None:
    """'below 2 min' / 'at or above 0.1%': where a value stands against its (warn, alert) levels."""
    if lvl is None:
        return None

    def show(v: float) -> str:
        if unit == "%":
            return m.fmt_pct(v, 1 if v < 0.01 else 0)
        return f"{v:g} s" if v < 60 else f"{v / 60:g} min"

    warn, alert = levels
    if lvl == "alert":
        return f"alert level: {show(alert)} or more"
    if lvl == "warn":
        return f"warning level: {show(warn)} or more"
    return f"below {show(warn)}"


# ------------------------------------------------------------------------------------------ Daily


def daily_page() -> None:
    st.title("Daily")
    st.caption("The dbt marts of the daily batch (schema analytics), one row per UTC day that "
               "dag_daily_etl has built.")  # fmt: skip

    _refreshing(_daily_body, max(_refresh_s(), 60))


def _url_day(name: str) -> date | None:
    return q.parse_day(st.query_params.get(name))


def _pick_range() -> None:
    """The picker's range goes to the URL (?from=&to=), so a picked range can be shared and reloaded."""
    picked = st.session_state.get("daily_range") or ()
    if len(picked) == 2:
        st.query_params["from"], st.query_params["to"] = picked[0].isoformat(), picked[1].isoformat()


def _pick_day() -> None:
    day = st.session_state.get("daily_day")
    if day:
        st.query_params["from"] = st.query_params["to"] = day.isoformat()
        st.session_state["daily_range"] = (day, day)


def _daily_body() -> None:
    try:
        data = q.load_daily(_url_day("from"), _url_day("to"), _cfg())
    except Exception as exc:
        st.error(f"PostgreSQL is not reachable: {type(exc).__name__}")
        return
    if "days" in data.errors:
        st.warning(f"The marts are not built yet ({data.errors['days']}). Run `dag_daily_etl` for a day.")
        return
    if not data.loaded_days:
        st.info("No day in the marts yet: trigger `dag_daily_etl` (Airflow) for a day with events.")
        return
    _day_pickers(data)
    if data.empty:
        st.info(f"No mart rows for {data.day_from} to {data.day_to}: pick days the daily batch has loaded "
                f"({_loaded_summary(data.loaded_days)}).")  # fmt: skip
        return
    days = data.days
    shown = f"**Days:** {days[0]} to {days[-1]} · {len(days)} day{'s' if len(days) > 1 else ''} with data"
    if (days[0], days[-1]) != (data.day_from, data.day_to):
        shown += f" (range: {data.day_from} to {data.day_to}; the other days have no marts)"
    st.markdown(shown)

    daily = data.tables["daily"]
    last = daily[-1]
    prev = data.day_before
    for row in (("impressions", "clicks", "ctr", "roas"), ("cost", "revenue", "cpc", "cpa")):
        for col, kpi in zip(st.columns(4), row, strict=True):
            before = prev[kpi] if prev else None
            _kpi_tile(col, f"{last['event_day']} {KPI_TITLE[kpi]}", kpi, last[kpi], before, prev is not None)
    day_before = last["event_day"] - timedelta(days=1)
    st.caption(
        f"Changes are against {day_before}."
        if prev
        else f"No change shown: the marts have no {day_before} (the day before) to compare with."
    )

    st.subheader("Daily trend")
    trend = data.tables.get("ctr_trend") or []
    if trend:
        _daily_charts(daily)
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


def _loaded_summary(loaded: list[date]) -> str:
    return f"{len(loaded)} loaded, {loaded[0]} to {loaded[-1]}" if loaded else "none loaded"


def _day_pickers(data: q.DailyData) -> None:
    """A range picker and a list of the loaded days (a day Slack summarised is one click away)."""
    loaded = data.loaded_days
    low = min(loaded[0], data.day_from or loaded[0])
    high = max(loaded[-1], data.day_to or loaded[-1])
    c1, c2 = st.columns([2, 1])
    c1.date_input(
        "Days",
        value=(data.day_from, data.day_to),
        min_value=low,
        max_value=high,
        format="YYYY-MM-DD",
        key="daily_range",
        on_change=_pick_range,
        help="Pick the first and the last day. Days the batch has not built stay empty.",
    )
    c2.selectbox(
        "Jump to a loaded day",
        list(reversed(loaded)),
        index=None,
        placeholder=f"{_loaded_summary(loaded)}, newest first",
        format_func=lambda d: d.isoformat(),
        key="daily_day",
        on_change=_pick_day,
    )


def _daily_charts(daily: list[dict[str, Any]]) -> None:
    """Bars per day (a single day is one bar, not an empty line), the day as a label, not a time."""
    import altair as alt

    frame = pd.DataFrame(
        {
            "Day": [str(r["event_day"]) for r in daily],
            "Impressions": [int(r["impressions"]) for r in daily],
            "Clicks": [int(r["clicks"]) for r in daily],
            "CTR (%)": [float(r["ctr"] or 0) * 100 for r in daily],
            "Cost ($)": [float(r["cost"]) for r in daily],
            "Revenue ($)": [float(r["revenue"]) for r in daily],
        }
    )
    # A few days: bars of a fixed width (one band would fill the chart); more: the bands decide.
    bar = {"size": 40} if len(daily) <= 3 else {}
    half = {"size": 20} if len(daily) <= 3 else {}
    day = alt.X("Day:N", title=None, axis=alt.Axis(labelAngle=0))
    legend = alt.Legend(orient="bottom", title=None, labelLimit=0)

    def pair(measures: list[str], axis_format: str, tooltip_format: str) -> alt.Chart:
        """Two measures of one unit as bars side by side per day."""
        long = frame.melt(id_vars="Day", value_vars=measures, var_name="Measure")
        return (
            alt.Chart(long)
            .mark_bar(**half)
            .encode(
                x=day,
                xOffset="Measure:N",
                y=alt.Y("value:Q", title=None, axis=alt.Axis(format=axis_format)),
                color=alt.Color("Measure:N", legend=legend),
                tooltip=["Day", "Measure", alt.Tooltip("value:Q", format=tooltip_format)],
            )
        )

    c1, c2, c3 = st.columns(3)
    for col, title, chart in (
        (c1, "Impressions and clicks per day", pair(["Impressions", "Clicks"], ",d", ",d")),
        (c2, "CTR per day (%)",
         alt.Chart(frame.assign(Measure="CTR (%)")).mark_bar(**bar).encode(
             x=day,
             y=alt.Y("CTR (%):Q", title=None, axis=alt.Axis(format=".1f")),
             color=alt.Color("Measure:N", legend=legend),  # a legend like its neighbours: same height
             tooltip=["Day", alt.Tooltip("CTR (%):Q", format=".2f")])),
        (c3, "Cost and revenue per day ($)", pair(["Cost ($)", "Revenue ($)"], ",.0f", ",.2f")),
    ):  # fmt: skip
        col.caption(title)
        col.altair_chart(chart.properties(height=220), width="stretch")


# ------------------------------------------------------------------------------------------ Pipeline


def pipeline_page() -> None:
    st.title("Pipeline")
    st.caption("Prometheus: the recording rules of local_stack/monitoring/rules/pipeline.yml, last 30 min "
               "(times in UTC). Values are coloured against the alert levels of the same rules.")  # fmt: skip
    st.toggle(
        "Show test and benchmark topics and jobs",
        key="pipeline_all",
        help="Tests and benchmarks use their own topics and Flink jobs (wm_test_*, dlq_test_*, smoke_*, "
        "bench_*, ...). By default only the pipeline's own topics and job are shown.",
    )

    _refreshing(_pipeline_body, _refresh_s())


def _pipeline_body() -> None:
    cfg = _cfg()
    base = cfg["PROMETHEUS_URL"]
    try:
        q.prom_get(base, "/api/v1/query", {"query": "up"}, timeout=3)
    except Exception as exc:
        st.error(f"Prometheus at {base} is not reachable ({type(exc).__name__}): `make status`.")
        return
    everything = bool(st.session_state.get("pipeline_all"))
    panels = list(q.PIPELINE_PANELS.items())
    for i in range(0, len(panels), 2):
        cols = st.columns(2)
        for col, (key, panel) in zip(cols, panels[i : i + 2], strict=False):
            with col:
                st.markdown(f"**{panel['title']}**")
                _guard(lambda p=panel, k=key: _prom_panel(cfg, k, p, everything))


def _prom_panel(cfg: dict[str, str], key: str, panel: dict[str, Any], everything: bool) -> None:
    import altair as alt

    legend, kind = panel["legend"], panel["kind"]
    rows = [
        r for r in q.prom_range(cfg["PROMETHEUS_URL"], panel["expr"]) if r["value"] == r["value"]
    ]  # NaN: no traffic
    if kind == "seconds":
        # Flink reports -1 ms as the duration of a checkpoint that never completed: not a duration.
        rows = [r for r in rows if r["value"] >= 0]
    names = {r["metric"].get(legend, "") if legend else "value" for r in rows}
    hidden = sorted(n for n in names if legend and not q.own_series(legend, n, cfg))
    if not everything:
        rows = [r for r in rows if not legend or q.own_series(legend, r["metric"].get(legend, ""), cfg)]
    if not rows:
        st.info(panel["empty"])
        _hidden_note(hidden, everything)
        return
    frame = pd.DataFrame(
        {"time": r["time"], "series": r["metric"].get(legend, "") if legend else "value", "value": r["value"]}
        for r in rows
    )
    if kind == "percent":
        frame["value"] = frame["value"] * 100
    if kind in ("count", "records"):
        frame["value"] = frame["value"].round()  # increase() extrapolates: 1.46 failed checkpoints
    # "now" is the newest evaluation; a series that stopped before it (a topic gone quiet, a job
    # stopped) has no current value, only its history in the chart.
    latest = frame.sort_values("time").groupby("series").last()
    current = latest[latest["time"] >= pd.Timestamp(datetime.now(UTC)) - pd.Timedelta(seconds=60)]["value"]
    levels = q.panel_levels(panel, cfg)
    parts = []
    for series, value in current.items():
        shown = m.fmt_panel_value(kind, value)
        lvl = m.level(value, *levels) if levels else None
        parts.append((f"{series}: " if legend else "") + m.coloured(shown, lvl))
    st.caption("now: " + (", ".join(parts) or "no value in the last minute"))
    axis_format = {"rate": ",.0f", "records": ",d", "count": "d", "percent": ".2f", "seconds": ",.1f"}[kind]
    unit = {"rate": "per min", "records": "records", "count": "count", "percent": "%", "seconds": "s"}[kind]
    chart = (
        alt.Chart(frame)
        .mark_line()
        .encode(
            x=_time_x(frame["time"]),
            y=alt.Y(
                "value:Q",
                title=unit,
                axis=alt.Axis(
                    format=axis_format, tickMinStep=1 if kind in ("count", "records") else alt.Undefined
                ),
            ),
            color=alt.Color(
                "series:N",
                title=None,
                legend=alt.Legend(orient="bottom", columns=2, labelLimit=0) if legend else None,
            ),
            tooltip=[
                alt.Tooltip("utchoursminutesseconds(time):T", title="time (UTC)"),
                "series:N",
                alt.Tooltip("value:Q", format=axis_format),
            ],
        )
    )
    if levels:
        # The warning level always (how far from it), the alert level once values get near it.
        top = float(frame["value"].max())
        marks = [
            (v, c) for v, c in zip(levels, ("orange", "red"), strict=True) if c == "orange" or top >= v / 2
        ]
        rules = pd.DataFrame({"value": [v for v, _ in marks], "color": [c for _, c in marks]})
        rule = alt.Chart(rules).mark_rule(strokeDash=[4, 4], opacity=0.6)
        rule = rule.encode(y="value:Q", color=alt.Color("color:N", scale=None, legend=None))
        chart = alt.layer(chart, rule).resolve_scale(color="independent")
    # The legend sits under the plot, two names a row, never cut: the chart grows with it.
    rows_of_legend = (frame["series"].nunique() + 1) // 2 if legend else 0
    st.altair_chart(chart.properties(height=170), height=230 + 22 * rows_of_legend, width="stretch")
    _hidden_note(hidden, everything)


def _hidden_note(hidden: list[str], everything: bool) -> None:
    if hidden and not everything:
        st.caption(f"{len(hidden)} test/benchmark series hidden ({', '.join(hidden[:3])}"
                   f"{', ...' if len(hidden) > 3 else ''}): the toggle above shows them.")  # fmt: skip


def main() -> None:
    st.set_page_config(page_title="Ad events", layout="wide")
    pages = [
        st.Page(live_page, title="Live", url_path="live", default=True),
        st.Page(daily_page, title="Daily", url_path="daily"),
        st.Page(pipeline_page, title="Pipeline", url_path="pipeline"),
    ]
    st.navigation(pages).run()


main()
