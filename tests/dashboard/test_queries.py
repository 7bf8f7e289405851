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
        (m.fmt_money, Decimal("0.012345"), "$0.0123"),
        (m.fmt_money, "1234.5", "$1,234.5000"),
        (m.fmt_ratio, Decimal("1.5"), "1.50x"),
        (m.fmt_seconds, 4.25, "4.2 s"),
        (m.fmt_seconds, 125, "2 min 5 s"),
        (m.fmt_seconds, 3 * 3600 + 65, "3 h 1 min"),
        (m.fmt_seconds, 2 * 86400 + 7200, "2 d 2 h"),
        (m.fmt_seconds, None, m.NA),
    ],
)
def test_formatting(fmt: Any, value: Any, shown: str):
    assert fmt(value) == shown


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
