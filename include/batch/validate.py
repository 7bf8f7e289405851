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
message starts with the failing expectation(s), so the task log and the Slack alert (which quotes
the exception's first line) both say what failed. ``great_expectations`` is imported lazily: its
import alone takes ~4 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from include.batch.days import avazu_hours, day_bounds_ms

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
    """The day broke its contract; ``failures`` lists each failed expectation in words."""

    def __init__(self, suite: str, day: str, failures: list[str]) -> None:
        self.failures = failures
        head = "; ".join(failures[:3]) + (f"; and {len(failures) - 3} more" if len(failures) > 3 else "")
        super().__init__(f"{suite} failed for {day}: {head}")


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


def describe_failure(result: Any) -> str:
    """One failed expectation in words: ``expect_x(column=c): 3 unexpected of 100 (e.g. [...])``."""
    cfg = result.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k in ("column", "column_A", "column_B")}
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    res = result.result or {}
    detail = ""
    if "unexpected_count" in res:
        sample = res.get("partial_unexpected_list") or []
        detail = f": {res['unexpected_count']} unexpected of {res.get('element_count')} (e.g. {sample[:3]})"
    elif "observed_value" in res:
        detail = f": observed {res['observed_value']}"
    if result.exception_info and result.exception_info.get("raised_exception"):
        detail += f" [error: {result.exception_info.get('exception_message')}]"
    return f"{cfg.type}({args}){detail}"


def quiet_progress(context: Any) -> None:
    """No tqdm bars: they fill Airflow task logs with carriage-return noise."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)


def validate_frame(frame: Any, day: date, limits: Limits | None = None) -> ValidationReport:
    """Run the suite on ``frame``; returns the report, raises ValidationFailed when anything failed."""
    import time

    import great_expectations as gx

    started = time.monotonic()
    context = gx.get_context(mode="ephemeral")
    quiet_progress(context)
    source = context.data_sources.add_pandas("daily_batch")
    asset = source.add_dataframe_asset("ad_events")
    batch_def = asset.add_batch_definition_whole_dataframe(f"day_{day.isoformat()}")
    suite = context.suites.add(gx.ExpectationSuite(name=SUITE_NAME))
    for expectation in event_expectations(day, limits or Limits()):
        suite.add_expectation(expectation)
    batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite)
    failures = [describe_failure(r) for r in result.results if not r.success]
    report = ValidationReport(
        day=day.isoformat(),
        suite=SUITE_NAME,
        rows=len(frame),
        expectations=len(result.results),
        success=not failures,
        failures=failures,
        seconds=round(time.monotonic() - started, 3),
    )
    if failures:
        raise ValidationFailed(SUITE_NAME, day.isoformat(), failures)
    return report


def validate_parquet(parquet_path: str, day: date, limits: Limits | None = None) -> ValidationReport:
    """Validate the day's Parquet file (what the DAG's ``validate`` task calls)."""
    return validate_frame(load_frame(parquet_path), day, limits)
