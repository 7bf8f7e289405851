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


def fmt_money(value: Any, digits: int = 4) -> str:
    """Money in the price model's currency unit: 0.012345 -> '$0.0123' (4 decimals: CPMs are small)."""
    d = to_decimal(value)
    return NA if d is None else f"${d:,.{digits}f}"


def fmt_ratio(value: Any, digits: int = 2) -> str:
    """ROAS: revenue per unit of cost, 1.5 -> '1.50x'."""
    d = to_decimal(value)
    return NA if d is None else f"{d:,.{digits}f}x"


def fmt_rate(value: Any, unit: str = "/min", digits: int = 0) -> str:
    d = to_decimal(value)
    return NA if d is None else f"{d:,.{digits}f}{unit}"


def fmt_seconds(value: Any) -> str:
    """A duration: 4.2 -> '4.2 s', 125 -> '2 min 5 s', 90061 -> '1 d 1 h'."""
    d = to_decimal(value)
    if d is None:
        return NA
    s = float(d)
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


def freshness_s(latest_end: datetime | None, now: datetime | None = None) -> float | None:
    """Data freshness: now minus the end of the latest closed window (None when there is none)."""
    if latest_end is None:
        return None
    now = now or datetime.now(UTC)
    return max(0.0, (now - latest_end).total_seconds())


# How each ratio reads: a share, money per unit, or a multiple.
RATIO_FORMATS = {"ctr": fmt_pct, "cpc": fmt_money, "cpa": fmt_money, "roas": fmt_ratio}
KPI_FORMATS = {
    **{c: fmt_int for c in COUNTS},
    **{m: fmt_money for m in MONEY},
    **{r: RATIO_FORMATS[r] for r in RATIO_NAMES},  # a ratio added to the contract fails here
}


def format_row(row: Mapping[str, Any], columns: Iterable[str]) -> dict[str, str]:
    """Every named column of a row as the page shows it (unknown columns as str)."""
    return {c: KPI_FORMATS.get(c, lambda v: NA if v is None else str(v))(row.get(c)) for c in columns}
