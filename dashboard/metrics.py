"""The dashboard's number logic: ratios from sums (include/metrics_contract.py, docs/design.md
"Metric definitions"), aggregation of windows, and the exact formatting of every number a page shows (the browser test formats the
database's values with the same functions and compares strings).

Pure Python (Decimal, no float on money): importable and testable without Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from include import metrics_contract as contract
from include.metrics_contract import COUNTS, MEASURES, MONEY, RATIO_NAMES


def ratios(
    impressions: Any, clicks: Any, conversions: Any, cost: Any, revenue: Any
) -> dict[str, Decimal | None]:
    """Every ratio of the contract from one set of sums, exact (rounded only when shown)."""
    return contract.ratios(
        {"impressions": impressions, "clicks": clicks, "conversions": conversions, "cost": cost,
         "revenue": revenue}
    )  # fmt: skip


def to_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float) and value != value:  # NaN
        return None
    return Decimal(str(value))


@dataclass(frozen=True)
class Window:
    """One row of realtime.ad_window_metrics (or its Redis copy)."""

    size_s: int
    start: datetime
    end: datetime
    dimension: str
    value: str
    impressions: int
    clicks: int
    conversions: int
    cost: Decimal
    revenue: Decimal
    ctr: Decimal | None
    cpc: Decimal | None
    cpa: Decimal | None
    roas: Decimal | None

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> Window:
        """From a window row (contract column names); ratios stay as stored, never recomputed."""
        return cls(
            size_s=int(row["window_size_s"]),
            start=_utc(row["window_start"]),
            end=_utc(row["window_end"]),
            dimension=str(row["dimension"]),
            value=str(row["dimension_value"]),
            **{c: int(row[c]) for c in COUNTS},
            **{m: to_decimal(row[m]) or Decimal(0) for m in MONEY},
            **{r: to_decimal(row.get(r)) for r in RATIO_NAMES},
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "window_start": self.start,
            "window_end": self.end,
            **{c: getattr(self, c) for c in (*MEASURES, *RATIO_NAMES)},
        }


@dataclass
class Totals:
    """Sums of several windows (e.g. one campaign over the last hour) and their ratios."""

    key: str = ""
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    cost: Decimal = field(default_factory=Decimal)
    revenue: Decimal = field(default_factory=Decimal)

    def add(self, w: Window) -> None:
        for measure in MEASURES:
            setattr(self, measure, getattr(self, measure) + getattr(w, measure))

    def as_dict(self) -> dict[str, Any]:
        sums = {m: getattr(self, m) for m in MEASURES}
        return {"key": self.key, **sums, **contract.ratios(sums)}


def top_by_impressions(windows: Iterable[Window], limit: int) -> list[dict[str, Any]]:
    """Windows summed per dimension value, ranked by impressions (then clicks, then value)."""
    totals: dict[str, Totals] = {}
    for w in windows:
        totals.setdefault(w.value, Totals(key=w.value)).add(w)
    ranked = sorted(totals.values(), key=lambda t: (-t.impressions, -t.clicks, t.key))
    return [t.as_dict() for t in ranked[:limit]]


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):  # epoch ms (the Redis cache)
        return datetime.fromtimestamp(value / 1000, UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ------------------------------------------------------------------------------------- formatting
# One function per kind of number. NA (an en dash) is the shown value of an undefined ratio.

NA = "\u2013"


def fmt_int(value: Any) -> str:
    return NA if value is None else f"{int(value):,}"


def fmt_pct(value: Any, digits: int = 2) -> str:
    """A ratio in [0, 1] as a percentage: 0.169811 -> '16.98%'."""
    d = to_decimal(value)
    return NA if d is None else f"{d * 100:,.{digits}f}%"


def fmt_money(value: Any, digits: int = 2) -> str:
    """An amount of money in the price model's currency unit, to the cent: 1234.5 -> '$1,234.50'."""
    d = to_decimal(value)
    if d is None:
        return NA
    return f"-${abs(d):,.{digits}f}" if d < 0 else f"${d:,.{digits}f}"


def fmt_price(value: Any) -> str:
    """A price per click or per action: cents from $1 up, 4 decimals below (CPCs are fractions of a
    cent apart): 8.3415 -> '$8.34', 0.26441 -> '$0.2644'."""
    d = to_decimal(value)
    if d is None:
        return NA
    return fmt_money(d, 2 if abs(d) >= 1 else 4)


def fmt_ratio(value: Any, digits: int = 2) -> str:
    """ROAS: revenue per unit of cost, 1.5 -> '1.50x'."""
    d = to_decimal(value)
    return NA if d is None else f"{d:,.{digits}f}x"


def fmt_rate(value: Any, unit: str = "/min") -> str:
    """A rate with thousands separators, never in scientific notation: 6130.4 -> '6,130/min'
    (one decimal below 10, so a trickle does not read as zero: 4.28 -> '4.3/min')."""
    d = to_decimal(value)
    if d is None:
        return NA
    return f"{d:,.1f}{unit}" if 0 < abs(d) < 10 else f"{d:,.0f}{unit}"


def fmt_seconds(value: Any) -> str:
    """A duration: 0.224 -> '0.22 s', 4.2 -> '4.2 s', 125 -> '2 min 5 s', 90061 -> '1 d 1 h'."""
    d = to_decimal(value)
    if d is None:
        return NA
    s = float(d)
    if s < 1:
        return f"{s:.2f} s"  # a checkpoint of 0.04 s is not "0.0 s"
    if s < 60:
        return f"{s:.1f} s"
    total = int(s)
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    if days:
        return f"{days:,} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s"


def fmt_time(value: datetime | None) -> str:
    return NA if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_clock(value: datetime | None) -> str:
    """The time of day of a recent moment: '23:56:38 UTC'."""
    return NA if value is None else value.astimezone(UTC).strftime("%H:%M:%S UTC")


def freshness_s(latest_end: datetime | None, now: datetime | None = None) -> float | None:
    """Data freshness: now minus the end of the latest closed window (None when there is none)."""
    if latest_end is None:
        return None
    now = now or datetime.now(UTC)
    return max(0.0, (now - latest_end).total_seconds())


# How each ratio reads: a share, a price per unit, or a multiple.
RATIO_FORMATS = {"ctr": fmt_pct, "cpc": fmt_price, "cpa": fmt_price, "roas": fmt_ratio}
KPI_FORMATS = {
    **{c: fmt_int for c in COUNTS},
    **{m: fmt_money for m in MONEY},
    **{r: RATIO_FORMATS[r] for r in RATIO_NAMES},  # a ratio added to the contract fails here
}


def format_row(row: Mapping[str, Any], columns: Iterable[str]) -> dict[str, str]:
    """Every named column of a row as the page shows it (unknown columns as str)."""
    return {c: KPI_FORMATS.get(c, lambda v: NA if v is None else str(v))(row.get(c)) for c in columns}


# ------------------------------------------------------------------------------------- deltas
# Which way is good: more impressions, clicks, revenue, CTR and ROAS are; a lower price per click
# or action is; spend itself is neither (it follows the traffic), so its change stays grey.
DELTA_COLOR = {"cost": "off", "cpc": "inverse", "cpa": "inverse"}


def kpi_delta(kpi: str, now: Any, before: Any) -> str | None:
    """Change against the previous window, in the KPI's own unit (percentage points for CTR)."""
    a, b = to_decimal(now), to_decimal(before)
    if a is None or b is None:
        return None
    diff = a - b
    if kpi == "ctr":
        return f"{diff * 100:+.2f} pp"
    if kpi in ("cpc", "cpa"):
        # The change of a price to the precision the price itself shows: $4.34 after $4.75 reads
        # "-$0.41", not "-$0.4094"; fractions of a cent only between prices below $1.
        shown = fmt_money(abs(diff), 2 if max(abs(a), abs(b)) >= 1 else 4)
    else:
        shown = KPI_FORMATS[kpi](abs(diff))
    return ("-" if diff < 0 and not is_zero(shown) else "+") + shown


def is_zero(shown: str) -> bool:
    """A formatted number that shows no change ('+0', '+$0.00', '+0.00 pp'): no arrow, no colour."""
    return not any(ch in "123456789" for ch in shown)


# ------------------------------------------------------------------------------------- levels
# The colour of a number against its alert levels: ok (green), warn (orange), alert (red).

LEVEL_COLOR = {"ok": "green", "warn": "orange", "alert": "red"}
# Event-time lag of live data: a 1-minute window closes ~5 s after its end (the watermark), so up to
# ~70 s is normal; minutes mean the job or its input is behind.
FRESHNESS_LEVELS = (120.0, 600.0)
# Since the job last wrote a window: the same scale.
UPDATE_LEVELS = (120.0, 600.0)
# Result latency after the watermark: the EndToEndLatencyHigh alert fires above 5 s.
LATENCY_LEVELS = (3.0, 5.0)
# Beyond this event-time lag the windows are replayed history (Avazu is from 2014), not a delay.
REPLAY_LAG_S = 86400.0


def level(value: Any, warn: float, alert: float) -> str | None:
    """ok below ``warn``, warn from it, alert from ``alert`` (None when there is no value)."""
    d = to_decimal(value)
    if d is None:
        return None
    return "alert" if d >= Decimal(str(alert)) else "warn" if d >= Decimal(str(warn)) else "ok"


def coloured(text: str, lvl: str | None) -> str:
    """Streamlit Markdown of ``text`` in its level's colour ('$' escaped: Markdown would read LaTeX)."""
    safe = text.replace("$", "\\$")
    return f":{LEVEL_COLOR[lvl]}[{safe}]" if lvl in LEVEL_COLOR else safe


def fmt_count(value: Any) -> str:
    """A count that Prometheus extrapolated (increase() gives 1.46 failed checkpoints): whole."""
    d = to_decimal(value)
    return NA if d is None else f"{d.quantize(Decimal(1)):,}"


def fmt_panel_value(kind: str, value: Any) -> str:
    """A Pipeline-page value by what it measures (see dashboard/queries.py PIPELINE_PANELS)."""
    if kind == "rate":
        return fmt_rate(value)
    if kind == "records":
        return fmt_count(value) + " records"
    if kind == "count":
        return fmt_count(value)
    if kind == "percent":  # already in percent
        d = to_decimal(value)
        return NA if d is None else f"{d:,.2f}%"
    if kind == "seconds":
        return fmt_seconds(value)
    return NA if value is None else str(value)
