"""The dashboard's number logic and source selection, without a browser or a running stack."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from dashboard import metrics as m
from dashboard import queries as q


def test_ratios_follow_spec_and_are_null_on_zero_denominators():
    r = m.ratios(1000, 170, 0, Decimal("37.5"), Decimal("0"))
    assert r["ctr"] == Decimal("0.17")
    assert r["cpc"] == Decimal("37.5") / 170
    assert r["cpa"] is None  # no conversion
    assert r["roas"] == 0
    assert m.ratios(0, 0, 0, 0, 0) == {"ctr": None, "cpc": None, "cpa": None, "roas": None}


@pytest.mark.parametrize(
    ("fmt", "value", "shown"),
    [
        (m.fmt_int, 1234567, "1,234,567"),
        (m.fmt_pct, Decimal("0.169811"), "16.98%"),
        (m.fmt_pct, None, m.NA),
        (m.fmt_money, Decimal("0.012345"), "$0.01"),
        (m.fmt_money, "1234.5", "$1,234.50"),
        (m.fmt_money, Decimal("-38.6799"), "-$38.68"),
        (m.fmt_price, Decimal("0.264412"), "$0.2644"),
        (m.fmt_price, Decimal("8.341512"), "$8.34"),
        (m.fmt_price, None, m.NA),
        (m.fmt_ratio, Decimal("1.5"), "1.50x"),
        (m.fmt_rate, 6130.4, "6,130/min"),
        (m.fmt_rate, 164200.0, "164,200/min"),
        (m.fmt_rate, 4.28, "4.3/min"),
        (m.fmt_rate, 0, "0/min"),
        (m.fmt_count, 1.46, "1"),
        (m.fmt_count, 12345.6, "12,346"),
        (m.fmt_seconds, 0.224, "0.22 s"),
        (m.fmt_seconds, 4.25, "4.2 s"),
        (m.fmt_seconds, 125, "2 min 5 s"),
        (m.fmt_seconds, 3 * 3600 + 65, "3 h 1 min"),
        (m.fmt_seconds, 2 * 86400 + 7200, "2 d 2 h"),
        (m.fmt_seconds, None, m.NA),
    ],
)
def test_formatting(fmt: Any, value: Any, shown: str):
    assert fmt(value) == shown


@pytest.mark.parametrize(
    ("kpi", "now", "before", "shown", "zero"),
    [
        ("impressions", 47, 48, "-1", False),
        ("impressions", 48, 48, "+0", True),  # no arrow, no colour
        ("revenue", Decimal("0"), Decimal("0"), "+$0.00", True),
        ("revenue", Decimal("0.001"), Decimal("0"), "+$0.00", True),  # below a cent shows no change
        ("cost", Decimal("2.2006"), Decimal("2.4092"), "-$0.21", False),
        ("cpc", Decimal("0.2201"), Decimal("0.3012"), "-$0.0811", False),
        ("cpa", Decimal("4.3406"), Decimal("4.75"), "-$0.41", False),  # the precision of $4.34
        ("cpa", Decimal("0.9"), Decimal("1.2"), "-$0.30", False),
        ("cpa", Decimal("5.001"), Decimal("5.004"), "+$0.00", True),
        ("ctr", Decimal("0.2128"), Decimal("0.1667"), "+4.61 pp", False),
        ("ctr", Decimal("0.2"), Decimal("0.2"), "+0.00 pp", True),
        ("roas", None, Decimal("1"), None, False),
    ],
)
def test_kpi_deltas_show_the_change_and_zero_is_no_change(kpi, now, before, shown, zero):
    delta = m.kpi_delta(kpi, now, before)
    assert delta == shown
    assert shown is None or m.is_zero(delta) is zero


def test_cost_is_never_good_and_prices_are_better_lower():
    assert m.DELTA_COLOR["cost"] == "off"
    assert m.DELTA_COLOR["cpc"] == m.DELTA_COLOR["cpa"] == "inverse"
    assert "impressions" not in m.DELTA_COLOR  # normal: more is better


def test_levels_and_their_colours():
    assert m.level(Decimal("0.0009"), 0.001, 0.01) == "ok"
    assert m.level(0.001, 0.001, 0.01) == "warn"
    assert m.level(0.481, 0.001, 0.01) == "alert"
    assert m.level(None, 1, 2) is None
    assert m.coloured("48.10%", "alert") == ":red[48.10%]"
    assert m.coloured("$1.00", None) == "\\$1.00"  # Markdown would read $...$ as LaTeX


def test_pipeline_values_read_as_people_read_them():
    assert m.fmt_panel_value("rate", 6130.4) == "6,130/min"
    assert m.fmt_panel_value("records", 38012.2) == "38,012 records"
    assert m.fmt_panel_value("count", 1.5) == "2"
    assert m.fmt_panel_value("percent", 48.1) == "48.10%"
    assert m.fmt_panel_value("seconds", 4.52) == "4.5 s"


def test_only_the_pipelines_own_topics_and_job_are_its_own():
    cfg = {
        "TOPIC_RAW": "ad_events_raw",
        "TOPIC_DLQ": "ad_events_error",
        "FLINK_JOB_NAME": "ad_window_metrics",
    }
    own = [("topic", "ad_events_raw"), ("topic", "ad_events_error"), ("topic", "ad_events_error_retry_2"),
           ("job_name", "ad_window_metrics"), ("", "value")]  # fmt: skip
    others = [("topic", "wm_test_2316817b"), ("topic", "bench_ours_1"), ("topic", "smoke_flink_f3dd33ab"),
              ("topic", "dlq_test_raw_6deed091"), ("job_name", "wm_test_712beb4a")]  # fmt: skip
    assert all(q.own_series(label, v, cfg) for label, v in own)
    assert not any(q.own_series(label, v, cfg) for label, v in others)


def test_panel_levels_are_in_the_unit_shown():
    cfg = {"DLQ_ALERT_WARN_RATIO": "0.001", "DLQ_ALERT_ALERT_RATIO": "0.01"}
    assert q.panel_levels(q.PIPELINE_PANELS["errors"], cfg) == (0.1, 1.0)
    assert q.panel_levels(q.PIPELINE_PANELS["latency"], cfg) == (3, 5)
    assert q.panel_levels(q.PIPELINE_PANELS["ingest"], cfg) is None


def test_the_daily_range_ends_at_the_data():
    from datetime import date

    loaded = [date(2014, 10, 21), date(2014, 11, 14), date(2014, 11, 16)]
    assert q.default_range(loaded, None, None, 14) == (date(2014, 11, 3), date(2014, 11, 16))
    assert q.default_range(loaded, date(2014, 10, 21), None, 14) == (date(2014, 10, 21), date(2014, 11, 16))
    assert q.default_range(loaded, None, date(2014, 10, 22), 2) == (date(2014, 10, 21), date(2014, 10, 22))
    assert q.default_range(loaded, date(2014, 11, 2), date(2014, 11, 1), 14) == (
        date(2014, 11, 1),
        date(2014, 11, 2),
    )


def test_freshness_is_now_minus_the_newest_window_end():
    end = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert m.freshness_s(end, now=end + timedelta(seconds=42)) == 42
    assert m.freshness_s(None) is None


def _window(
    size: int, start: datetime, dim: str, value: str, imp: int, clk: int, conv: int, cost: str
) -> m.Window:
    return m.Window.from_mapping(
        {"window_size_s": size, "window_start": start, "window_end": start + timedelta(seconds=size),
         "dimension": dim, "dimension_value": value, "impressions": imp, "clicks": clk,
         "conversions": conv, "cost": cost, "revenue": "0"}
    )  # fmt: skip


def test_top_campaigns_sum_windows_and_recompute_ratios():
    t = datetime(2026, 1, 1, tzinfo=UTC)
    windows = [
        _window(300, t, "campaign", "a", 100, 10, 1, "1.0"),
        _window(300, t + timedelta(minutes=5), "campaign", "a", 300, 20, 1, "3.0"),
        _window(300, t, "campaign", "b", 350, 70, 0, "2.0"),
        _window(300, t, "campaign", "c", 350, 50, 0, "2.0"),
    ]
    top = m.top_by_impressions(windows, limit=2)
    assert [r["key"] for r in top] == ["a", "b"]  # 400 > 350 (b beats c on clicks)
    assert top[0]["impressions"] == 400 and top[0]["clicks"] == 30
    assert top[0]["ctr"] == Decimal(30) / 400  # not the mean of 0.1 and 0.0667
    assert top[0]["cpa"] == Decimal("4.0") / 2


class FakeRedis:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def zrevrange(self, key: str, a: int, b: int) -> list[bytes]:
        starts = sorted(self.data.get(key, []), reverse=True)
        return [str(s).encode() for s in starts[a : b + 1]]

    def pipeline(self, transaction: bool = False) -> FakeRedis:
        self.ops: list[Any] = []
        return self

    def hget(self, key: str, field: str) -> None:
        self.ops.append(self.data.get(key, {}).get(field))

    def hgetall(self, key: str) -> None:
        self.ops.append({k.encode(): v for k, v in self.data.get(key, {}).items()})

    def execute(self) -> list[Any]:
        return self.ops


def _doc(imp: int, clk: int, end_ms: int) -> str:
    return json.dumps({"impressions": imp, "clicks": clk, "conversions": 0, "cost": "1.000000",
                       "revenue": "0.000000", "ctr": str(Decimal(clk) / imp), "cpc": None, "cpa": None,
                       "roas": "0.000000", "window_end": end_ms})  # fmt: skip


def _cfg(**extra: str) -> dict[str, str]:
    base = {
        "DASHBOARD_TREND_MINUTES": "10",
        "REDIS_WINDOW_PREFIX": "p",
        "DASHBOARD_WINDOW_TABLE": "realtime.t",
    }
    return {**base, **extra}


def test_load_live_reads_redis_first():
    start = 1_700_000_000_000
    fake = FakeRedis(
        {
            "p:windows:60": [start - 60_000, start],
            f"p:win:60:{start}:all": {"": _doc(10, 2, start + 60_000)},
            f"p:win:60:{start - 60_000}:all": {"": _doc(8, 1, start)},
            "p:windows:300": [start],
            f"p:win:300:{start}:all": {"": _doc(50, 5, start + 300_000)},
            f"p:win:300:{start}:campaign": {
                "c1": _doc(30, 3, start + 300_000),
                "c2": _doc(20, 2, start + 300_000),
            },
        }
    )

    def no_pg(cfg: dict[str, str]) -> Any:
        raise AssertionError("PostgreSQL must not be read when Redis has windows")

    data = q.load_live(_cfg(), redis_factory=lambda c: fake, pg_factory=no_pg)
    assert data.source == "redis"
    assert data.latest(60).impressions == 10 and data.previous(60).impressions == 8
    assert data.latest(300).ctr == Decimal("0.1")
    assert data.latest_end() == datetime.fromtimestamp((start + 300_000) / 1000, UTC)
    assert [r["key"] for r in data.top_campaigns(300, 5)] == ["c1", "c2"]


def test_load_live_falls_back_to_postgresql_and_never_raises():
    def broken_redis(cfg: dict[str, str]) -> Any:
        raise ConnectionError("refused")

    def broken_pg(cfg: dict[str, str]) -> Any:
        raise OSError("connection refused\nmore detail")

    data = q.load_live(_cfg(), redis_factory=broken_redis, pg_factory=broken_pg)
    assert data.source == "none" and data.empty
    assert data.notes[0] == "Redis unavailable (ConnectionError)"
    assert "PostgreSQL unavailable (OSError: connection refused)" in data.notes[1]

    empty = q.load_live(_cfg(), redis_factory=lambda c: FakeRedis({}), pg_factory=broken_pg)
    assert empty.notes[0] == "Redis has no cached window"


def test_window_table_setting_must_be_an_identifier():
    assert (
        q.window_table({"DASHBOARD_WINDOW_TABLE": "realtime.ad_window_metrics"})
        == "realtime.ad_window_metrics"
    )
    with pytest.raises(ValueError):
        q.window_table({"DASHBOARD_WINDOW_TABLE": "realtime.x; DROP TABLE y"})


def test_windows_per_span():
    assert q.windows_per_span(60, 60) == 60
    assert q.windows_per_span(300, 60) == 12
    assert q.windows_per_span(300, 1) == 1
