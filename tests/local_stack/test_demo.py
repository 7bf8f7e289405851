"""`make demo`'s pipeline run, as the README promises it: bootstrap, replay, windows equal to the
oracle, the daily ETL from the Flink archive, marts equal to the windows, the day on the Daily page."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from demo_support import SAMPLE_ROWS, run_demo

from dashboard import metrics as m
from include import config

pytestmark = pytest.mark.integration

SCREENSHOTS = Path(config.get("DATA_DIR")) / "test-artifacts" / "screenshots"


def _fct(day: date) -> dict[str, Any]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(config.pg_dsn("PG_DASHBOARD"), row_factory=dict_row) as conn:
        row = conn.execute(
            "SELECT * FROM analytics.fct_daily_metrics WHERE event_day = %s", (day,)
        ).fetchone()
    assert row is not None, f"no fct_daily_metrics row for {day}"
    return row


def test_demo_runs_the_sample_end_to_end(bootstrapped, browser, cfg):
    # A later run (test_existing_clusters.py runs the same path afterwards) gets an hour of its own.
    report = run_demo()
    day = report.marts_day
    fct = _fct(day)
    assert (report.day_impressions, report.day_clicks) == (fct["impressions"], fct["clicks"])
    assert fct["impressions"] >= SAMPLE_ROWS  # this run's hour is in the day's marts

    # The day the demo built, on the stack's Daily page, as a person opens it.
    page = browser.new_page(viewport={"width": 1500, "height": 2000})
    page.goto(f"http://{cfg['BIND_HOST']}:{cfg['STREAMLIT_PORT']}/daily?from={day}&to={day}")
    page.get_by_text(f"Days: {day} to {day}", exact=False).first.wait_for(timeout=60_000)
    page.get_by_text("Rendered 20", exact=False).first.wait_for(timeout=60_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        # "Rendered" can belong to a run still being replaced (the page's fragment refreshes itself):
        # the tile is what a person reads, so wait for it.
        page.locator('[data-testid="stMetricLabel"]', has_text=f"{day} Impressions").first.wait_for(
            timeout=60_000
        )
    finally:
        page.screenshot(path=str(SCREENSHOTS / "demo_daily.png"), full_page=True)
    tiles = {
        t.locator('[data-testid="stMetricLabel"]').inner_text().strip(): t.locator(
            '[data-testid="stMetricValue"]'
        )
        .inner_text()
        .strip()
        for t in page.locator('[data-testid="stMetric"]').all()
    }
    assert tiles.get(f"{day} Impressions") == m.fmt_int(fct["impressions"]), tiles
    assert tiles.get(f"{day} Clicks") == m.fmt_int(fct["clicks"]), tiles
    assert "Traceback" not in page.inner_text("body")
    page.close()
