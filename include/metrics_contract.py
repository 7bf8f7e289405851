"""The metric contract: the measures, ratios, numeric types, windows, dimensions and window-row
columns every layer computes or shows (docs/design.md "Metric definitions" and "Table grains").

Standard library only, so the Flink job's client, Airflow tasks, the dashboard and the tests all
import it. Who takes what from it:

- the Flink SQL (``include/flink_jobs/ad_window_metrics/sql.py``): the ratios, the money and ratio
  types, the window sizes, the dimensions and the window-row columns;
- the readers of ``realtime.ad_window_metrics`` (``table.py`` next to it) and the dashboard
  (``dashboard/``): the columns, the ratios, the window sizes;
- the dbt macro ``ad_metrics`` (``include/dbt/ad_events/macros/ad_metrics.sql``) is Jinja and cannot
  import Python: it names the same ratios, and ``tests/dbt/test_metric_contract.py`` holds it (and
  every mart) to this module;
- the Redis key formats are ``window_key`` / ``index_key`` in
  ``include/flink_jobs/ad_window_metrics/redis_cache.py``, and everything else imports them from
  there: that module is pickled by value into Flink's Python worker, which cannot import this
  package, so it has to stay the self-contained home of the keys it writes.

The oracle (``include/flink_jobs/ad_window_metrics/oracle.py``) does not import this module on
purpose: it is the independent second implementation the tests compare the job against, and a
definition shared by both would let one mistake pass in both. ``tests/include/
test_metrics_contract.py`` checks that the two agree.

Rounding differs by layer (what the code does, and why):

- **stream** (``realtime.ad_window_metrics`` and its Redis copy): each ratio is the exact quotient
  cast to ``DECIMAL(18, 6)``, i.e. rounded half-up to 6 decimals (:func:`stream_rounded`). Flink
  SQL has no DECIMAL without a declared precision and scale, and the table's ratio columns are
  ``numeric(18,6)`` like its money, so the job must fix a scale and uses the money scale.
- **dbt marts**: each ratio is a PostgreSQL ``numeric`` division left unrounded (at least 16
  significant digits). A mart is a table created from its query, so its ratio columns have no
  declared scale to fit, and rounding would only lose precision for the marts' readers.

So the two layers' ratios are equal only after rounding a mart's half-up to 6 decimals; the
stream/batch reconciliation (``include/batch/stream_reconcile.py``) compares the summed measures,
which are exact in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any

COUNTS: tuple[str, ...] = ("impressions", "clicks", "conversions")
MONEY: tuple[str, ...] = ("cost", "revenue")
MEASURES: tuple[str, ...] = (*COUNTS, *MONEY)
"""What every row sums; a ratio of several rows is always taken from these sums, never averaged."""


@dataclass(frozen=True)
class Ratio:
    """``name = numerator / denominator`` over summed measures; NULL when the denominator is 0."""

    name: str
    numerator: str
    denominator: str


RATIOS: tuple[Ratio, ...] = (
    Ratio("ctr", "clicks", "impressions"),
    Ratio("cpc", "cost", "clicks"),
    Ratio("cpa", "cost", "conversions"),
    Ratio("roas", "revenue", "cost"),
)
RATIO_NAMES: tuple[str, ...] = tuple(r.name for r in RATIOS)

MONEY_PRECISION = 18
MONEY_SCALE = 6  # micro-units: the price model's smallest amount
MONEY_SQL_TYPE = f"DECIMAL({MONEY_PRECISION}, {MONEY_SCALE})"
STREAM_RATIO_SQL_TYPE = MONEY_SQL_TYPE  # see "Rounding differs by layer" above
STREAM_RATIO_ROUNDING = ROUND_HALF_UP
_STREAM_RATIO_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)

WINDOW_SIZES_S: tuple[int, ...] = (60, 300)

ALL_DIMENSION = "all"  # the grand total; its dimension_value is ""
DIMENSIONS: Mapping[str, str] = MappingProxyType(
    {
        "campaign": "campaign_id",
        "device_type": "device_type",
        "site_category": "site_category",
        "app_category": "app_category",
        "banner_pos": "banner_pos",
    }
)
"""Breakdown dimension name -> the event column behind it, in the order the job groups them."""

WINDOW_KEY: tuple[str, ...] = ("window_size_s", "window_start", "dimension", "dimension_value")
"""The grain (and upsert key) of ``realtime.ad_window_metrics``."""
WINDOW_COLUMNS: tuple[str, ...] = (
    "window_size_s",
    "window_start",
    "window_end",
    "dimension",
    "dimension_value",
    *MEASURES,
    *RATIO_NAMES,
)
"""A window row, in table order (``updated_at``, set by PostgreSQL, aside)."""


def ratio(numerator: Any, denominator: Any) -> Decimal | None:
    """The exact quotient as Decimal; None when the denominator is 0 or either side is unknown."""
    if numerator is None or denominator is None:
        return None
    den = Decimal(str(denominator))
    if den == 0:
        return None
    return Decimal(str(numerator)) / den


def ratios(measures: Mapping[str, Any]) -> dict[str, Decimal | None]:
    """Every ratio of one set of summed measures, unrounded, by name."""
    return {r.name: ratio(measures[r.numerator], measures[r.denominator]) for r in RATIOS}


def stream_rounded(value: Decimal | None) -> Decimal | None:
    """A ratio as the stream table stores it: half-up to the money scale."""
    return None if value is None else value.quantize(_STREAM_RATIO_QUANTUM, rounding=STREAM_RATIO_ROUNDING)
