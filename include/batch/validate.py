"""The great-expectations gate of the daily batch: a day's Parquet is checked before it is loaded.

The suite (:func:`event_expectations`) is the contract of ``analytics.ad_events`` for one day D:

=====================================================  ==============================================
expectation                                            why
=====================================================  ==============================================
table row count between 1 and BATCH_MAX_ROWS_PER_DAY   an empty day (missing archive) or a runaway
                                                       file must not replace a good day
event_id not null, unique, matches ``^[0-9]{1,20}$``   the event key; duplicates would double-count
click, conversion in {0, 1}                            flags, not counts
event_time within [D 00:00, D+1 00:00) UTC             the day's partition holds the day only
hour matches ``^YYMMDD(00..23)$`` of D                 Avazu hour agrees with the day
cost in (0, BATCH_MAX_COST]                            every impression costs something, bounded
revenue in [0, BATCH_MAX_REVENUE]                      bounded
click >= conversion                                    a conversion needs a click
conversion == (revenue > 0)                            revenue iff conversion
banner_pos, device_type, device_conn_type >= 0         schema ranges
campaign_id, creative_id not null                      dimension keys of the marts
=====================================================  ==============================================

GX runs on a pandas frame of just these columns (the wide string columns are not needed), which
keeps a 4M-row day to a few seconds. A failed expectation raises :class:`ValidationFailed` whose
message starts with the failing expectation(s) and ends with the address of the validation's Data
Docs page (when the result is kept: include/batch/checkpoint.py), so the task log and the Slack
alert (which quotes the exception's first line) both say what failed and where to look.
``great_expectations`` is imported lazily: its import alone takes 4-10 s, which a module that merely
imports this one should not pay. Airflow's tasks find it loaded already (include/airflow_preloaded.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from include.batch.checkpoint import run_suite
from include.batch.days import avazu_hours, day_bounds_ms
from include.docs_sites import GX_SITE, public_url

SUITE_NAME = "ad_events_daily"
VALIDATED_COLUMNS = (
    "event_id",
    "event_time",
    "hour",
    "click",
    "conversion",
    "cost",
    "revenue",
    "campaign_id",
    "creative_id",
    "banner_pos",
    "device_type",
    "device_conn_type",
)


class ValidationFailed(RuntimeError):
    """The day broke its contract; ``failures`` lists each failed expectation in words, ``page_url``
    is the address of the validation's Data Docs page (None when the result was not kept)."""

    def __init__(self, suite: str, day: str, failures: list[str], page_url: str | None = None) -> None:
        self.failures = failures
        self.page_url = page_url
        head = "; ".join(failures[:3]) + (f"; and {len(failures) - 3} more" if len(failures) > 3 else "")
        # One line: the Slack alert quotes the message's first line only.
        see = f"; see {page_url}" if page_url else ""
        super().__init__(f"{suite} failed for {day}: {head}{see}")


def page_url(page: str | None) -> str | None:
    """The address people open for a page of the gx/ Data Docs site (None stays None)."""
    return public_url(f"{GX_SITE}/{page}") if page else None


@dataclass
class ValidationReport:
    """JSON-safe outcome of one validation run (XCom)."""

    day: str
    suite: str
    rows: int
    expectations: int
    success: bool
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    page_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class Limits:
    """Bounds of the numeric expectations (settings BATCH_MAX_*; see include/config.py)."""

    max_rows: int = 20_000_000
    max_cost: float = 10.0
    max_revenue: float = 10_000.0


def event_expectations(day: date, limits: Limits) -> list[Any]:
    """The suite's expectations for day ``day`` (GX objects; import cost paid by the caller)."""
    import great_expectations as gx

    ex = gx.expectations
    start_ms, end_ms = day_bounds_ms(day)
    prefix = avazu_hours(day)[0][:6]
    return [
        ex.ExpectTableRowCountToBeBetween(min_value=1, max_value=limits.max_rows),
        ex.ExpectColumnValuesToNotBeNull(column="event_id"),
        ex.ExpectColumnValuesToBeUnique(column="event_id"),
        ex.ExpectColumnValuesToMatchRegex(column="event_id", regex=r"^[0-9]{1,20}$"),
        ex.ExpectColumnValuesToBeInSet(column="click", value_set=[0, 1]),
        ex.ExpectColumnValuesToBeInSet(column="conversion", value_set=[0, 1]),
        ex.ExpectColumnValuesToBeBetween(column="event_time_ms", min_value=start_ms, max_value=end_ms - 1),
        ex.ExpectColumnValuesToMatchRegex(column="hour", regex=rf"^{prefix}(?:[01][0-9]|2[0-3])$"),
        ex.ExpectColumnValuesToBeBetween(
            column="cost", min_value=0, max_value=limits.max_cost, strict_min=True
        ),
        ex.ExpectColumnValuesToBeBetween(column="revenue", min_value=0, max_value=limits.max_revenue),
        ex.ExpectColumnPairValuesAToBeGreaterThanB(column_A="click", column_B="conversion", or_equal=True),
        ex.ExpectColumnPairValuesToBeEqual(column_A="conversion", column_B="has_revenue"),
        ex.ExpectColumnValuesToBeBetween(column="banner_pos", min_value=0),
        ex.ExpectColumnValuesToBeBetween(column="device_type", min_value=0),
        ex.ExpectColumnValuesToBeBetween(column="device_conn_type", min_value=0),
        ex.ExpectColumnValuesToNotBeNull(column="campaign_id"),
        ex.ExpectColumnValuesToNotBeNull(column="creative_id"),
    ]


def load_frame(parquet_path: str) -> Any:
    """The validated columns as pandas, plus the derived ``event_time_ms`` and ``has_revenue``.

    Money becomes float for GX's range checks only (bounds, not sums); the load copies the exact
    decimals from Parquet, not this frame.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(parquet_path, columns=list(VALIDATED_COLUMNS))
    frame = table.drop_columns(["event_time", "cost", "revenue"]).to_pandas()
    frame["event_time_ms"] = table["event_time"].cast("int64").to_numpy()
    frame["cost"] = table["cost"].cast("float64").to_numpy()
    frame["revenue"] = table["revenue"].cast("float64").to_numpy()
    frame["has_revenue"] = pc.greater(table["revenue"], 0).cast("int16").to_numpy()
    return frame


def validate_frame(
    frame: Any, day: date, limits: Limits | None = None, docs_root: Path | None = None
) -> ValidationReport:
    """Run the suite on ``frame``; returns the report, raises ValidationFailed when anything failed.

    With ``docs_root`` (setting DOCS_DIR) the result is kept as a Data Docs page, named in both.
    """
    import time

    started = time.monotonic()
    run = run_suite(
        frame,
        SUITE_NAME,
        event_expectations(day, limits or Limits()),
        source="daily_batch",
        asset="ad_events",
        day=day,
        docs_root=docs_root,
    )
    url = page_url(run.page)
    if run.failures:
        raise ValidationFailed(SUITE_NAME, day.isoformat(), run.failures, url)
    return ValidationReport(
        day=day.isoformat(),
        suite=SUITE_NAME,
        rows=len(frame),
        expectations=len(run.result.results),
        success=True,
        seconds=round(time.monotonic() - started, 3),
        page_url=url,
    )


def validate_parquet(
    parquet_path: str, day: date, limits: Limits | None = None, docs_root: Path | None = None
) -> ValidationReport:
    """Validate the day's Parquet file (what the DAG's ``validate`` task calls)."""
    return validate_frame(load_frame(parquet_path), day, limits, docs_root)
