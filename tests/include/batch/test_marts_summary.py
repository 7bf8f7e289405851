"""The Slack daily summary's wording (a pure function of the two days' metrics)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from include.batch.marts import summary_text

TODAY = {"impressions": 2000, "clicks": 340, "ctr": Decimal("0.17"), "cost": Decimal("80.123456"),
         "roas": Decimal("3.5")}  # fmt: skip


def test_summary_compares_with_the_day_before():
    before = {**TODAY, "impressions": 1000, "clicks": 340, "ctr": Decimal("0.34"), "roas": None}
    text = summary_text(date(2014, 10, 22), TODAY, before, 0.0005, "run-1")
    assert "Daily ad metrics for 2014-10-22 (dag_daily_etl run run-1)" in text
    assert "impressions: 2,000 (+100.0% vs day before)" in text
    assert "clicks: 340 (+0.0% vs day before)" in text
    assert "CTR: 0.1700 (-50.0% vs day before)" in text
    assert "cost: 80.12" in text and "ROAS: 3.500\n" in text
    assert "DLQ rate: 0.0500%" in text


def test_summary_without_previous_day_or_dlq_says_so():
    text = summary_text(date(2014, 10, 21), {**TODAY, "ctr": None, "roas": None}, None, None)
    assert "CTR: n/a" in text and "ROAS: n/a" in text and "DLQ rate: n/a" in text
    assert "no marts for 2014-10-20 to compare with" in text
