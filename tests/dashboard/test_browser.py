"""The Streamlit pages in a real browser (Debian chromium, headless, through Playwright): the numbers
shown equal the database's (Redis first, PostgreSQL when Redis has nothing, the marts), each page
renders without a traceback, and a screenshot of each lands in data/test-artifacts/screenshots/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from dashboard_support import ARTIFACTS, SEED_DAYS, insert_windows, live_rows

from dashboard import metrics as m
from include import config

pytestmark = [pytest.mark.integration]

KPIS = ("impressions", "clicks", "ctr", "roas", "cost", "revenue", "cpc", "cpa")
TITLE = {"impressions": "Impressions", "clicks": "Clicks", "ctr": "CTR", "cpc": "CPC", "cpa": "CPA",
         "roas": "ROAS", "cost": "Cost", "revenue": "Revenue"}  # fmt: skip
TIMEOUT_MS = 60_000


# Errors the page logged in the browser console, per page: a chart whose Vega-Lite spec fails
# renders as an empty grid without any traceback, and only says so there.
_CONSOLE_ERRORS: dict[int, list[str]] = {}


def _open(browser: Any, url: str, ready_text: str) -> Any:
    page = browser.new_page(viewport={"width": 1500, "height": 2000})
    errors = _CONSOLE_ERRORS.setdefault(id(page), [])
    page.on(
        "console",
        lambda msg: errors.append(msg.text)
        if msg.type == "error" and not msg.text.startswith("Failed to load resource")
        else None,
    )
    page.goto(url)
    page.get_by_text(ready_text, exact=False).first.wait_for(timeout=TIMEOUT_MS)
    return page


def _settle(page: Any) -> None:
    """Wait until a run of the page finished: every page body ends with "Rendered <time>"."""
    page.get_by_text("Rendered 20", exact=False).first.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT_MS
    )
    # Tiles, tables and charts load lazily after the run: grey skeletons until then.
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=TIMEOUT_MS
    )
    page.wait_for_timeout(500)


def _metrics(page: Any) -> dict[str, str]:
    out = {}
    for tile in page.locator('[data-testid="stMetric"]').all():
        label = tile.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        value = tile.locator('[data-testid="stMetricValue"]').inner_text().strip()
        out[label] = value
    return out


def _deltas(page: Any) -> dict[str, tuple[str, str | None, str]]:
    """Every tile's change: (text, arrow 'Up' / 'Down' / None, colour as the browser computed it)."""
    out = {}
    for tile in page.locator('[data-testid="stMetric"]').all():
        delta = tile.locator('[data-testid="stMetricDelta"]')
        if not delta.count():
            continue
        label = tile.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        icon = delta.locator("svg[data-testid^='stMetricDeltaIcon-']")
        arrow = icon.get_attribute("data-testid").rsplit("-", 1)[1] if icon.count() else None
        color = delta.evaluate("e => getComputedStyle(e).color")
        out[label] = (delta.inner_text().strip(), arrow, color)
    return out


def _value_color(page: Any, label: str) -> str | None:
    """The colour a tile's value is written in (None: the default text colour, no level)."""
    tile = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)
    )
    colored = tile.locator('[data-testid="stMetricValue"] .stMarkdownColoredText')
    return colored.first.evaluate("e => getComputedStyle(e).color") if colored.count() else None


def _tables(page: Any) -> list[list[list[str]]]:
    """Every st.table as rows of cell texts (header row first)."""
    tables = []
    for table in page.locator('[data-testid="stTable"] table').all():
        rows = []
        for tr in table.locator("tr").all():
            rows.append([c.inner_text().strip() for c in tr.locator("th, td").all()])
        tables.append(rows)
    return tables


def _no_traceback(page: Any) -> None:
    text = page.inner_text("body")
    assert "Traceback" not in text and 'File "' not in text, text[:2000]
    assert page.locator('[data-testid="stException"]').count() == 0, text[:2000]
    assert not _CONSOLE_ERRORS.get(id(page)), _CONSOLE_ERRORS[id(page)][:3]


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _seconds(shown: str) -> float:
    """Inverse of metrics.fmt_seconds (to the precision it shows)."""
    shown = shown.removesuffix(" ago")
    if mm := re.fullmatch(r"([\d,]+) d (\d+) h", shown):
        return int(mm.group(1).replace(",", "")) * 86400 + int(mm.group(2)) * 3600
    if mm := re.fullmatch(r"([\d.]+) s", shown):
        return float(mm.group(1))
    if mm := re.fullmatch(r"(\d+) min (\d+) s", shown):
        return int(mm.group(1)) * 60 + int(mm.group(2))
    if mm := re.fullmatch(r"(\d+) h (\d+) min", shown):
        return int(mm.group(1)) * 3600 + int(mm.group(2)) * 60
    raise AssertionError(f"unexpected freshness {shown!r}")


def _expected_tiles(rows: list[dict[str, Any]]) -> dict[str, str]:
    expected = {}
    for size, label in ((60, "1m"), (300, "5m")):
        latest = max((r for r in rows if r["window_size_s"] == size and r["dimension"] == "all"),
                     key=lambda r: r["window_start"])  # fmt: skip
        for kpi in KPIS:
            expected[f"{label} {TITLE[kpi]}"] = m.KPI_FORMATS[kpi](latest[kpi])
    return expected


def _db_windows(table: str) -> list[dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(config.pg_dsn("PG_DASHBOARD"), row_factory=dict_row) as conn:
        return conn.execute(f"SELECT * FROM {table}").fetchall()


def _db_top_campaigns(table: str) -> list[list[str]]:
    """Top campaigns computed independently in SQL (sums over the 5m windows, ratios from the sums)."""
    import psycopg

    sql = f"""
        SELECT dimension_value, sum(impressions), sum(clicks),
               sum(clicks)::numeric / nullif(sum(impressions), 0), sum(cost),
               sum(cost) / nullif(sum(clicks), 0), sum(cost) / nullif(sum(conversions), 0),
               sum(revenue) / nullif(sum(cost), 0)
        FROM {table} WHERE window_size_s = 300 AND dimension = 'campaign'
        GROUP BY 1 ORDER BY 2 DESC, 3 DESC, 1"""
    with psycopg.connect(config.pg_dsn("PG_DASHBOARD")) as conn:
        rows = conn.execute(sql).fetchall()
    return [
        [k, m.fmt_int(i), m.fmt_int(c), m.fmt_pct(ctr), m.fmt_money(cost), m.fmt_price(cpc),
         m.fmt_price(cpa), m.fmt_ratio(roas)]
        for k, i, c, ctr, cost, cpc, cpa, roas in rows
    ]  # fmt: skip


def _latest_two(rows: list[dict[str, Any]], size: int) -> tuple[dict[str, Any], dict[str, Any]]:
    ordered = sorted((r for r in rows if r["window_size_s"] == size and r["dimension"] == "all"),
                     key=lambda r: r["window_start"])  # fmt: skip
    return ordered[-1], ordered[-2]


def _db_last_update(table: str) -> datetime:
    import psycopg

    with psycopg.connect(config.pg_dsn("PG_DASHBOARD")) as conn:
        return conn.execute(f"SELECT max(updated_at) FROM {table} WHERE dimension = 'all'").fetchone()[0]


def _check_live(page: Any, rows: list[dict[str, Any]], top: list[list[str]], source: str, table: str) -> None:
    _settle(page)
    _no_traceback(page)
    body = page.inner_text("body")
    assert f"Source: {source}" in body, body[:1500]
    shown = _metrics(page)
    expected = _expected_tiles(rows)
    assert {k: shown.get(k) for k in expected} == expected
    newest_end = max(r["window_end"] for r in rows)
    age = (datetime.now(UTC) - newest_end).total_seconds()
    assert abs(_seconds(shown["Event-time lag"]) - age) < 60, (shown["Event-time lag"], age)
    assert f"Newest window end: {m.fmt_time(newest_end)} (event time)." in body
    updated = (datetime.now(UTC) - _db_last_update(table)).total_seconds()
    assert abs(_seconds(shown["Last update"]) - updated) < 60, (shown["Last update"], updated)
    assert shown["DLQ rate (5 min)"] == "no traffic" or shown["DLQ rate (5 min)"].endswith("%")
    assert shown["Result latency"] == "no live window" or shown["Result latency"].endswith(" s")
    # Live data: a lag of about two minutes is in the green, with no replay explanation.
    assert _value_color(page, "Event-time lag") == _value_color(page, "Last update") is not None
    assert "replayed historical events" not in body
    # Changes: the arrow follows the sign, the colour what is good for the KPI, "+0" has neither.
    deltas = _deltas(page)
    green, red, grey = deltas["1m CTR"][2], deltas["1m Impressions"][2], deltas["1m Clicks"][2]
    assert deltas["1m Clicks"][:2] == ("+0", None)  # the newest two 1m windows have the same clicks
    assert deltas["1m Impressions"][1] == "Down" and deltas["1m CTR"][1] == "Up"
    assert deltas["1m Cost"][1:] == ("Up", grey)  # spend is neither good nor bad
    assert deltas["1m CPC"][1:] == ("Up", red)  # a dearer click is bad
    assert len({green, red, grey}) == 3
    for tile, (text, _, _) in deltas.items():
        size, _, title = tile.partition(" ")
        kpi = next((k for k, t in TITLE.items() if t == title), None)
        if kpi and size in ("1m", "5m"):
            latest, prev = _latest_two(rows, 60 if size == "1m" else 300)
            assert text == m.kpi_delta(kpi, latest[kpi], prev[kpi]), tile
    # A trend chart per ratio that some 1m window has; the others say why they have none.
    ones = [r for r in rows if r["window_size_s"] == 60 and r["dimension"] == "all"]
    drawn = [k for k in ("ctr", "cpc", "cpa", "roas") if any(r[k] is not None for r in ones)]
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == len(drawn), drawn
    tables = _tables(page)
    assert tables, "no top-campaigns table"
    header, *cells = tables[0]
    assert header == ["Campaign", "Impressions", "Clicks", "CTR", "Cost", "CPC", "CPA", "ROAS"]
    assert cells == top


def test_live_page_reads_redis_first_then_postgresql(browser, streamlit_server, live_seed, cfg):
    from include.flink_jobs.ad_window_metrics import redis_cache

    # 0. Empty state: no window anywhere yet.
    page = _open(browser, f"{streamlit_server}/", "Source:")
    _settle(page)
    _no_traceback(page)
    assert "No window yet." in page.inner_text("body")
    _shot(page, "live_empty")
    page.close()

    pg_rows = live_rows(datetime.now(UTC))
    insert_windows(live_seed.table, pg_rows)
    db_rows = _db_windows(live_seed.table)
    assert len(db_rows) == len(pg_rows)

    # 1. PostgreSQL fallback: the test's Redis prefix is empty.
    page = _open(browser, f"{streamlit_server}/", "Source:")
    _check_live(page, db_rows, _db_top_campaigns(live_seed.table), "PostgreSQL", live_seed.table)
    _shot(page, "live_postgresql")

    # 2. Redis first: the job's own cache writer stores different numbers (x2) under the prefix.
    import redis

    redis_rows = live_rows(datetime.now(UTC), scale=2)
    client = redis.Redis(
        host=cfg["REDIS_HOST"], port=int(cfg["REDIS_PORT"]), password=cfg["REDIS_PASSWORD"] or None
    )
    redis_cache.write(client, redis_rows, live_seed.prefix, ttl_ms=600_000)
    page.reload()
    page.get_by_text("Source: Redis", exact=False).first.wait_for(timeout=TIMEOUT_MS)
    top = _redis_top(redis_rows)
    _check_live(page, _as_stored(redis_rows), top, "Redis", live_seed.table)
    _shot(page, "live_redis")
    page.close()


def test_live_page_explains_replayed_history(browser, streamlit_server, live_seed):
    """Windows of 2014 (a replay of Avazu): thousands of days of event-time lag, said in words."""
    rows = live_rows(datetime(2014, 10, 21, 12, 0, tzinfo=UTC))
    insert_windows(live_seed.table, rows)
    page = _open(browser, f"{streamlit_server}/", "Source:")
    _settle(page)
    _no_traceback(page)
    body = page.inner_text("body")
    shown, deltas = _metrics(page), _deltas(page)
    newest_end = max(r["window_end"] for r in rows)
    lag = (datetime.now(UTC) - newest_end).total_seconds()
    assert abs(_seconds(shown["Event-time lag"]) - lag) <= 3600, (shown["Event-time lag"], lag)
    assert deltas["Event-time lag"][:2] == ("replayed history", None)
    assert _value_color(page, "Event-time lag") is None  # the age of the data is not an alarm
    days = int(lag // 86400)
    assert f"Newest window end: {m.fmt_time(newest_end)} (event time)." in body
    assert "These are replayed historical events" in body and f"{days:,} days behind the clock" in body
    # The write just happened: that is the number that says the pipeline works.
    assert _seconds(shown["Last update"]) < 120 and "the job last wrote a window" in body
    _shot(page, "live_replay")
    page.close()


def _as_stored(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the cache holds: money and ratios with 6 decimals (as the job writes them)."""
    q = Decimal("0.000001")
    out = []
    for r in rows:
        out.append({**r, **{k: (None if r[k] is None else Decimal(r[k]).quantize(q))
                            for k in ("cost", "revenue", "ctr", "cpc", "cpa", "roas")}})  # fmt: skip
    return out


def _redis_top(rows: list[dict[str, Any]]) -> list[list[str]]:
    sums: dict[str, dict[str, Any]] = {}
    for r in _as_stored(rows):
        if r["window_size_s"] != 300 or r["dimension"] != "campaign":
            continue
        s = sums.setdefault(r["dimension_value"], dict.fromkeys(("impressions", "clicks", "conversions"), 0)
                            | {"cost": Decimal(0), "revenue": Decimal(0)})  # fmt: skip
        for k in ("impressions", "clicks", "conversions", "cost", "revenue"):
            s[k] += r[k]
    ranked = sorted(sums.items(), key=lambda kv: (-kv[1]["impressions"], -kv[1]["clicks"], kv[0]))
    out = []
    for key, s in ranked:
        rat = m.ratios(**s)
        out.append([key, m.fmt_int(s["impressions"]), m.fmt_int(s["clicks"]), m.fmt_pct(rat["ctr"]),
                    m.fmt_money(s["cost"]), m.fmt_price(rat["cpc"]), m.fmt_price(rat["cpa"]),
                    m.fmt_ratio(rat["roas"])])  # fmt: skip
    return out


def test_daily_page_shows_the_marts(browser, streamlit_server, seeded_marts):
    d1, d2 = SEED_DAYS
    page = _open(browser, f"{streamlit_server}/daily?from={d1}&to={d2}", "Days:")
    _settle(page)
    _no_traceback(page)
    assert f"Days: {d1} to {d2} · 2 days with data" in page.inner_text("body")
    shown, deltas = _metrics(page), _deltas(page)
    first, last = (
        next(r for r in seeded_marts["fct_daily_metrics"] if r["event_day"] == d) for d in SEED_DAYS
    )
    for kpi in KPIS:
        assert shown[f"{d2} {TITLE[kpi]}"] == m.KPI_FORMATS[kpi](last[kpi]), kpi
        assert deltas[f"{d2} {TITLE[kpi]}"][0] == m.kpi_delta(kpi, last[kpi], first[kpi]), kpi
    assert f"Changes are against {d1}." in page.inner_text("body")
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == 3  # bars, not a time axis
    tables = _tables(page)
    assert len(tables) == 4, tables
    ctr, device, category, banner = tables
    assert ctr[1:] == [[str(r["event_day"]), m.fmt_int(r["impressions"]), m.fmt_int(r["clicks"]),
                        m.fmt_pct(r["ctr"])] for r in _db(
        "SELECT event_day, impressions, clicks, ctr FROM analytics.mart_daily_ctr "
        "WHERE event_day BETWEEN %s AND %s ORDER BY event_day")]  # fmt: skip
    assert device[1:] == _grouped("mart_device_performance", ["device_type"], "impressions DESC, device_type")
    assert category[1:] == _grouped(
        "mart_category_analysis", ["traffic_type", "category"], "impressions DESC, traffic_type, category"
    )
    assert banner[1:] == _grouped("mart_banner_position", ["banner_pos"], "banner_pos")
    _shot(page, "daily")

    # A range wider than the data: the header names the days that have data, and says so.
    page.goto(f"{streamlit_server}/daily?from=2000-12-25&to={d2}")
    page.get_by_text(f"Days: {d1} to {d2} · 2 days with data (range: 2000-12-25 to {d2}",
                     exact=False).first.wait_for(timeout=TIMEOUT_MS)  # fmt: skip

    # One day, picked from the list of loaded days as a person would: bars for one day, no change.
    select = page.locator('[data-testid="stSelectbox"]').filter(has_text="Jump to a loaded day")
    select.click()
    page.keyboard.type(str(d1))
    page.keyboard.press("Enter")
    page.get_by_text(f"Days: {d1} to {d1} · 1 day with data", exact=False).first.wait_for(timeout=TIMEOUT_MS)
    _settle(page)
    assert f"from={d1}" in page.url and f"to={d1}" in page.url
    picker = page.locator('[data-testid="stDateInput"] input').first.input_value()
    assert {p.strip() for p in picker.split("\u2013") if p.strip()} == {str(d1)}, picker  # the picker agrees
    shown = _metrics(page)
    assert shown[f"{d1} {TITLE['impressions']}"] == m.fmt_int(first["impressions"])
    assert shown[f"{d1} {TITLE['cost']}"] == m.fmt_money(first["cost"])
    before = d1 - timedelta(days=1)
    assert f"No change shown: the marts have no {before} (the day before)" in page.inner_text("body")
    assert page.locator('[data-testid="stVegaLiteChart"]').count() == 3
    assert _tables(page)[0][1:] == [[str(d1), m.fmt_int(first["impressions"]), m.fmt_int(first["clicks"]),
                                     m.fmt_pct(first["ctr"])]]  # fmt: skip
    _shot(page, "daily_one_day")

    page.goto(f"{streamlit_server}/daily?from=1990-01-01&to=1990-01-02")
    page.get_by_text("No mart rows for 1990-01-01 to 1990-01-02", exact=False).first.wait_for(
        timeout=TIMEOUT_MS
    )
    _no_traceback(page)
    page.close()


def _db(sql: str) -> list[dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(config.pg_dsn("PG_DASHBOARD"), row_factory=dict_row) as conn:
        return conn.execute(sql, SEED_DAYS).fetchall()


def _grouped(table: str, keys: list[str], order: str) -> list[list[str]]:
    k = ", ".join(keys)
    rows = _db(
        f"SELECT {k}, sum(impressions) AS impressions, sum(clicks) AS clicks, "
        "sum(clicks)::numeric / nullif(sum(impressions), 0) AS ctr, sum(cost) / nullif(sum(clicks), 0) AS cpc, "
        "sum(cost) / nullif(sum(conversions), 0) AS cpa, sum(revenue) / nullif(sum(cost), 0) AS roas "
        f"FROM analytics.{table} WHERE event_day BETWEEN %s AND %s GROUP BY {k} ORDER BY {order}"
    )
    return [[*(str(r[c]) for c in keys), m.fmt_int(r["impressions"]), m.fmt_int(r["clicks"]), m.fmt_pct(r["ctr"]),
             m.fmt_price(r["cpc"]), m.fmt_price(r["cpa"]), m.fmt_ratio(r["roas"])] for r in rows]  # fmt: skip


def _now_values(page: Any) -> dict[str, dict[str, str]]:
    """Each panel's "now:" caption as {series: shown value} (series "" for single-series panels)."""
    from dashboard.queries import PIPELINE_PANELS

    body = page.inner_text("body")
    out = {}
    for key, panel in PIPELINE_PANELS.items():
        start = body.index(panel["title"]) + len(panel["title"])
        line = body[start:].lstrip().split("\n", 1)[0]
        if not line.startswith("now: "):
            continue
        if line == "now: no value in the last minute":
            out[key] = {}
            continue
        items = line.removeprefix("now: ").split(", ") if panel["legend"] else [line.removeprefix("now: ")]
        out[key] = dict(i.split(": ", 1) if panel["legend"] else ("", i) for i in items)
    return out


def test_pipeline_page_shows_the_pipelines_own_series_readably(browser, streamlit_server, cfg):
    from dashboard import queries as q

    page = _open(browser, f"{streamlit_server}/pipeline", "Ingest")
    _settle(page)
    _no_traceback(page)
    body = page.inner_text("body")
    for panel in q.PIPELINE_PANELS.values():
        assert panel["title"] in body
    # Every panel shows either its current values or the empty state, never an error.
    now = _now_values(page)
    empty = sum(1 for k, p in q.PIPELINE_PANELS.items() if k not in now and p["empty"] in body)
    assert len(now) + empty == len(q.PIPELINE_PANELS), body
    readable = re.compile(r"^(-?[\d,]+(\.\d+)?(/min| records|%| s)?|\d+ min \d+ s|\d+ h \d+ min)$")
    for key, values in now.items():
        panel = q.PIPELINE_PANELS[key]
        for series, shown in values.items():
            # Only the pipeline's own topics and job by default; readable numbers, no "6.13e+03".
            assert not panel["legend"] or q.own_series(panel["legend"], series, cfg), (key, series)
            assert readable.match(shown) and "e+" not in shown, (key, shown)
            assert not shown.startswith("-"), (key, shown)  # no negative durations or counts
            if panel["kind"] == "count":
                assert shown.isdigit(), (key, shown)
            # The shown value is within what Prometheus gave for that series in the last minutes.
            low, high = _recent_range(cfg, panel, series)
            number = _number(shown)
            slack = max(abs(high) * 0.02, 0.01 if panel["kind"] in ("percent", "seconds") else 1)
            assert low - slack <= number <= high + slack, (key, series, shown, low, high)
    _shot(page, "pipeline")

    # The toggle shows the test and benchmark series a person asked for (when there are any).
    hidden = re.findall(r"(\d+) test/benchmark series hidden \(([^)]*)\)", body)
    page.get_by_text("Show test and benchmark topics and jobs").click()
    page.wait_for_function(
        "() => !document.body.innerText.includes('test/benchmark series hidden')", timeout=TIMEOUT_MS
    )
    _settle(page)
    body = page.inner_text("body")
    for _, names in hidden:
        first = names.split(", ")[0]
        assert first in body, first
    _shot(page, "pipeline_all_series")
    page.close()


def _number(shown: str) -> float:
    if re.search(r"\d (min|h)\b", shown):
        return _seconds(shown)
    return float(re.sub(r"[^\d.\-]", "", shown.split(" ")[0].removesuffix("/min").removesuffix("%")))


def _recent_range(cfg: dict[str, str], panel: dict[str, Any], series: str) -> tuple[float, float]:
    """Lowest and highest value of the series over the last 3 minutes, in the unit shown."""
    from dashboard import queries as q

    values = []
    for r in q.prom_range(cfg["PROMETHEUS_URL"], panel["expr"], minutes=3, step_s=5):
        name = r["metric"].get(panel["legend"], "") if panel["legend"] else ""
        if name == series and r["value"] == r["value"]:
            values.append(r["value"] * 100 if panel["kind"] == "percent" else r["value"])
    assert values, (panel["title"], series)
    return min(values), max(values)


def test_the_stack_streamlit_serves_every_page(browser, cfg):
    """The supervised instance (make up) renders each page without a traceback."""
    base = f"http://{cfg['BIND_HOST']}:{cfg['STREAMLIT_PORT']}"
    for path, ready, name in (
        ("/", "Live", "live"),
        ("/daily", "Daily", "daily"),
        ("/pipeline", "Pipeline", "pipeline"),
    ):
        page = _open(browser, base + path, ready)
        _settle(page)
        _no_traceback(page)
        _shot(page, f"stack_{name}")
        page.close()
