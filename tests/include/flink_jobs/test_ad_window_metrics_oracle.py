"""The oracle's definitions on hand-computed cases (windows, dimensions, exact money, half-up ratios)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

from include.flink_jobs.ad_window_metrics import oracle

T0 = 1413849600000  # 2014-10-21T00:00:00Z


def event(event_id: str, t: int, click: int = 0, conversion: int = 0, cost: float = 0.05, revenue: float = 0.0,
          campaign: str = "c1", device_type: int = 1, banner_pos: int = 0) -> dict:  # fmt: skip
    return {
        "event_id": event_id, "event_time": t, "click": click, "conversion": conversion, "cost": cost,
        "revenue": revenue, "campaign_id": campaign, "device_type": device_type, "banner_pos": banner_pos,
        "site_category": "s1", "app_category": "a1",
    }  # fmt: skip


def test_windows_dimensions_and_metrics():
    rows = oracle.compute(
        [
            event("1", T0 + 1_000, click=1, conversion=1, cost=0.1, revenue=2.5),
            event("2", T0 + 59_999, cost=0.2, campaign="c2", device_type=4),
            event("3", T0 + 60_000, click=1, cost=0.3),  # next minute, same 5-minute window
        ]
    )
    start = datetime.fromtimestamp(T0 / 1000, UTC)
    minute = rows[(60, start, "all", "")]
    assert (minute.impressions, minute.clicks, minute.conversions) == (2, 1, 1)
    assert (minute.cost, minute.revenue) == (Decimal("0.300000"), Decimal("2.500000"))
    assert (minute.ctr, minute.cpc, minute.cpa, minute.roas) == (
        Decimal("0.500000"), Decimal("0.300000"), Decimal("0.300000"), Decimal("8.333333"),
    )  # fmt: skip
    assert minute.window_end == datetime.fromtimestamp((T0 + 60_000) / 1000, UTC)
    five = rows[(300, start, "all", "")]
    assert (five.impressions, five.clicks, five.cost) == (3, 2, Decimal("0.600000"))
    assert five.window_end == datetime.fromtimestamp((T0 + 300_000) / 1000, UTC)
    # Every dimension, values as text, '' only for all.
    c2 = rows[(60, start, "campaign", "c2")]
    assert (c2.impressions, c2.ctr, c2.cpc, c2.cpa, c2.roas) == (
        1,
        Decimal("0.000000"),
        None,
        None,
        Decimal("0.000000"),
    )
    assert rows[(60, start, "device_type", "4")].impressions == 1
    assert rows[(300, start, "banner_pos", "0")].impressions == 3
    dims = {k[2] for k in rows}
    assert dims == {"all", "campaign", "device_type", "site_category", "app_category", "banner_pos"}
    # 2 minutes x (all, 2|1 campaigns, 2|1 device types, site, app, banner) + 5-minute rows
    assert len([k for k in rows if k[0] == 60]) == 8 + 6
    assert len([k for k in rows if k[0] == 300]) == 8


def test_zero_denominators_give_none():
    row = next(iter(oracle.compute([event("1", T0, cost=0.0)]).values()))
    assert (row.cpc, row.cpa, row.roas) == (None, None, None)
    assert row.ctr == Decimal("0.000000")


def test_rounding_is_half_up_on_the_exact_quotient():
    assert oracle.round6(Fraction(1, 3)) == Decimal("0.333333")
    assert oracle.round6(Fraction(2, 3)) == Decimal("0.666667")
    assert oracle.round6(Fraction(5, 10_000_000)) == Decimal("0.000001")  # exactly half: up
    assert oracle.round6(Fraction(49_999_999, 100_000_000_000_000)) == Decimal("0.000000")
    assert oracle.ratio(1, 0) is None


def test_money_is_read_as_the_decimal_the_producer_wrote():
    assert oracle.to_micros(0.035768) == 35768
    assert oracle.to_micros(1e-05) == 10
    assert oracle.to_micros(0.0000005) == 1  # half-up, via the exact decimal text
    assert oracle.to_micros(0.0000004999) == 0
    assert oracle.to_micros("2.5") == 2_500_000
    # Sums stay exact where floats drift.
    rows = oracle.compute([event(str(i), T0, cost=0.1) for i in range(10)])
    assert rows[(60, datetime.fromtimestamp(T0 / 1000, UTC), "all", "")].cost == Decimal("1.000000")
