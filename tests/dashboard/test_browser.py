"""The Streamlit pages in a real browser (Debian chromium, headless, through Playwright): the numbers
shown equal the database's (Redis first, PostgreSQL when Redis has nothing, the marts), each page
renders without a traceback, and a screenshot of each lands in data/test-artifacts/screenshots/."""

from __future__ import annotations

import re
from datetime import UTC, datetime
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


def _open(browser: Any, url: str, ready_text: str) -> Any:
    page = browser.new_page(viewport={"width": 1500, "height": 2000})
    page.goto(url)
    page.get_by_text(ready_text, exact=False).first.wait_for(timeout=TIMEOUT_MS)
    return page


def _settle(page: Any) -> None:
    """Wait until a run of the page finished: every page body ends with "Rendered <time>"."""
    page.get_by_text("Rendered 20", exact=False).first.wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=TIMEOUT_MS
    )
    page.wait_for_timeout(500)


def _metrics(page: Any) -> dict[str, str]:
    out = {}
    for tile in page.locator('[data-testid="stMetric"]').all():
        label = tile.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        value = tile.locator('[data-testid="stMetricValue"]').inner_text().strip()
        out[label] = value
    return out


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


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _seconds(shown: str) -> float:
    """Inverse of metrics.fmt_seconds (to the precision it shows)."""
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
        [k, m.fmt_int(i), m.fmt_int(c), m.fmt_pct(ctr), m.fmt_money(cost), m.fmt_money(cpc),
         m.fmt_money(cpa), m.fmt_ratio(roas)]
        for k, i, c, ctr, cost, cpc, cpa, roas in rows
    ]  # fmt: skip


def _check_live(page: Any, rows: list[dict[str, Any]], top: list[list[str]], source: str) -> None:
    _settle(page)
    _no_traceback(page)
    body = page.inner_text("body")
    assert f"Source: {source}" in body, body[:1500]
    shown = _metrics(page)
    expected = _expected_tiles(rows)
    assert {k: shown.get(k) for k in expected} == expected
    newest_end = max(r["window_end"] for r in rows)
    age = (datetime.now(UTC) - newest_end).total_seconds()
    assert abs(_seconds(shown["Data freshness"]) - age) < 60, (shown["Data freshness"], age)
    assert shown["Newest window end"] == m.fmt_time(newest_end)
    assert shown["DLQ rate (5 min)"] == "no traffic" or shown["DLQ rate (5 min)"].endswith("%")
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
    _check_live(page, db_rows, _db_top_campaigns(live_seed.table), "PostgreSQL")
    _shot(page, "live_postgresql")

    # 2. Redis first: the job's own cache writer stores different numbers (x2) under the prefix.
    import redis

    redis_rows = live_rows(datetime.now(UTC), scale=2)
    client = redis.Redis(host=cfg["REDIS_HOST"], port=int(cfg["REDIS_PORT"]))
    redis_cache.write(client, redis_rows, live_seed.prefix, ttl_ms=600_000)
    page.reload()
    page.get_by_text("Source: Redis", exact=False).first.wait_for(timeout=TIMEOUT_MS)
    top = _redis_top(redis_rows)
    _check_live(page, _as_stored(redis_rows), top, "Redis")
    _shot(page, "live_redis")
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
                    m.fmt_money(s["cost"]), m.fmt_money(rat["cpc"]), m.fmt_money(rat["cpa"]),
                    m.fmt_ratio(rat["roas"])])  # fmt: skip
    return out


def test_daily_page_shows_the_marts(browser, streamlit_server, seeded_marts):
    d1, d2 = SEED_DAYS
    page = _open(browser, f"{streamlit_server}/daily?from={d1}&to={d2}", "Days:")
    _settle(page)
    _no_traceback(page)
    assert f"Days: {d1} to {d2}" in page.inner_text("body")
    shown = _metrics(page)
    last = next(r for r in seeded_marts["fct_daily_metrics"] if r["event_day"] == d2)
    for kpi in ("impressions", "clicks", "ctr", "cpc", "cpa", "roas"):
        assert shown[f"{d2} {TITLE[kpi]}"] == m.KPI_FORMATS[kpi](last[kpi])
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
             m.fmt_money(r["cpc"]), m.fmt_money(r["cpa"]), m.fmt_ratio(r["roas"])] for r in rows]  # fmt: skip


def test_pipeline_page_renders_every_panel(browser, streamlit_server):
    from dashboard.queries import PIPELINE_PANELS

    page = _open(browser, f"{streamlit_server}/pipeline", "Ingest")
    _settle(page)
    _no_traceback(page)
    body = page.inner_text("body")
    for panel in PIPELINE_PANELS.values():
        assert panel["title"] in body
    # Every panel shows either its current values or the empty state, never an error.
    # (Two panels share an empty message: count each distinct message once.)
    shown = body.count("now:") + sum(body.count(m) for m in {p["empty"] for p in PIPELINE_PANELS.values()})
    assert shown == len(PIPELINE_PANELS), body
    _shot(page, "pipeline")
    page.close()


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
