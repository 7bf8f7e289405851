"""An independent implementation of ``realtime.ad_window_metrics``: DuckDB + exact fractions, no Flink.

Used by the tests (the streaming job's table must equal it) and by the benchmark (its run time is
the baseline the job is compared against). It shares only the *input* side with the job: events
come from ``include.ingest`` exactly as the replayer makes them (same event times and economics:
docs/design.md "Event time", "Economics"), so an Avazu file gives the same events here as in Kafka.

Definitions it implements independently (README "Metrics"):

- windows: tumbling, ``[start, start + size)`` in epoch ms UTC, ``start = event_time - event_time % size``,
  sizes 60 s and 300 s; a window exists only if it has at least one event;
- dimensions: ``all`` (value ``''``), ``campaign`` (campaign_id), ``device_type``, ``site_category``,
  ``app_category``, ``banner_pos`` (integers as decimal text);
- impressions = events, clicks = sum(click), conversions = sum(conversion);
- cost, revenue: the event's JSON number rounded half-up to 6 decimals, summed exactly (integer
  micro-units in DuckDB's HUGEINT);
- ctr = clicks/impressions, cpc = cost/clicks, cpa = cost/conversions, roas = revenue/cost, each the
  exact rational rounded half-up to 6 decimals, None when the denominator is 0.

Late events do not exist for the oracle: a replay keeps each Kafka partition in event-time order, so
the job drops nothing when it is right, and every valid event counts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

WINDOW_SIZES_S = (60, 300)
DIMENSIONS = {
    "campaign": "campaign_id",
    "device_type": "device_type",
    "site_category": "site_category",
    "app_category": "app_category",
    "banner_pos": "banner_pos",
}
_MICRO = Decimal("0.000001")

Key = tuple[int, datetime, str, str]


@dataclass(frozen=True)
class WindowRow:
    """One ``realtime.ad_window_metrics`` row (``updated_at`` aside)."""

    window_size_s: int
    window_start: datetime
    window_end: datetime
    dimension: str
    dimension_value: str
    impressions: int
    clicks: int
    conversions: int
    cost: Decimal
    revenue: Decimal
    ctr: Decimal | None
    cpc: Decimal | None
    cpa: Decimal | None
    roas: Decimal | None

    @property
    def key(self) -> Key:
        return (self.window_size_s, self.window_start, self.dimension, self.dimension_value)


def to_micros(value: float | int | str) -> int:
    """A JSON number (as the producer wrote it) in micro-units, rounded half-up like CAST(... AS DECIMAL(18,6)).

    Fast path: a float within 0.25 micro of an integer number of micros rounds to it whatever its
    exact decimal expansion; anything else goes through its shortest repr (what orjson writes).
    """
    if isinstance(value, float):
        scaled = value * 1_000_000
        nearest = round(scaled)
        if abs(scaled - nearest) < 0.25:
            return nearest
    text = repr(value) if isinstance(value, float) else str(value)
    return int(Decimal(text).quantize(_MICRO, rounding=ROUND_HALF_UP).scaleb(6))


def round6(value: Fraction) -> Decimal:
    """A non-negative exact rational rounded half-up to 6 decimals."""
    micros = (value * 1_000_000 + Fraction(1, 2)).__floor__()
    return Decimal(micros).scaleb(-6).quantize(_MICRO)


def ratio(numerator: int, denominator: int) -> Decimal | None:
    """numerator/denominator (both in the same unit) rounded half-up to 6 decimals; None on 0."""
    return None if denominator == 0 else round6(Fraction(numerator, denominator))


def events_from_avazu(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The valid events of an Avazu file, as the replayer would publish them (rows it rejects skipped).

    An event id counts once per UTC day: a later row with an id already seen that day is skipped
    (the replayer dead-letters it as ``duplicate``).
    """
    from include.ingest.avazu_reader import read_avazu
    from include.ingest.economics import load_price_model
    from include.ingest.events import compile_validator, encode_row, load_schema

    validator, model = compile_validator(load_schema()), load_price_model()
    seen: set[tuple[int, str]] = set()
    for row in read_avazu(path):
        encoded = encode_row(row, validator, model)
        if isinstance(encoded, tuple):
            event = encoded[0]
            day_and_id = (event["event_time"] // 86_400_000, event["event_id"])
            if day_and_id not in seen:
                seen.add(day_and_id)
                yield event


def _columns(events: Iterable[dict[str, Any]]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {
        "event_time": [],
        "campaign_id": [],
        "device_type": [],
        "site_category": [],
        "app_category": [],
        "banner_pos": [],
        "click": [],
        "conversion": [],
        "cost_micros": [],
        "revenue_micros": [],
    }
    for e in events:
        cols["event_time"].append(e["event_time"])
        cols["campaign_id"].append(str(e["campaign_id"]))
        cols["device_type"].append(str(e["device_type"]))
        cols["site_category"].append(e["site_category"])
        cols["app_category"].append(e["app_category"])
        cols["banner_pos"].append(str(e["banner_pos"]))
        cols["click"].append(e["click"])
        cols["conversion"].append(e["conversion"])
        cols["cost_micros"].append(to_micros(e["cost"]))
        cols["revenue_micros"].append(to_micros(e["revenue"]))
    return cols


def _sql(size_ms: int) -> str:
    label = " ".join(f"WHEN GROUPING({col}) = 0 THEN '{dim}'" for dim, col in DIMENSIONS.items())
    sets = ", ".join(["(start_ms)", *(f"(start_ms, {col})" for col in DIMENSIONS.values())])
    return f"""
        WITH timed AS (SELECT *, event_time - event_time % {size_ms} AS start_ms FROM events)
        SELECT {size_ms // 1000} AS size_s, start_ms,
            CASE {label} ELSE 'all' END AS dimension,
            COALESCE({", ".join(DIMENSIONS.values())}, '') AS value,
            COUNT(*) AS impressions, SUM(click)::BIGINT AS clicks, SUM(conversion)::BIGINT AS conversions,
            SUM(cost_micros)::HUGEINT AS cost, SUM(revenue_micros)::HUGEINT AS revenue
        FROM timed
        GROUP BY GROUPING SETS ({sets})
    """


def compute(events: Iterable[dict[str, Any]]) -> dict[Key, WindowRow]:
    """The window rows of ``events`` (event dicts of the event schema), keyed by primary key."""
    import duckdb
    import pyarrow as pa

    table = pa.table(_columns(events))
    con = duckdb.connect()
    try:
        con.register("events", table)
        rows = []
        for size_s in WINDOW_SIZES_S:
            rows += con.execute(_sql(size_s * 1000)).fetchall()
    finally:
        con.close()
    out: dict[Key, WindowRow] = {}
    for size_s, start_ms, dimension, value, impressions, clicks, conversions, cost, revenue in rows:
        cost, revenue = int(cost), int(revenue)
        start = datetime.fromtimestamp(start_ms / 1000, UTC)
        row = WindowRow(
            window_size_s=size_s,
            window_start=start,
            window_end=datetime.fromtimestamp((start_ms + size_s * 1000) / 1000, UTC),
            dimension=dimension,
            dimension_value=value,
            impressions=impressions,
            clicks=clicks,
            conversions=conversions,
            cost=Decimal(cost).scaleb(-6).quantize(_MICRO),
            revenue=Decimal(revenue).scaleb(-6).quantize(_MICRO),
            ctr=ratio(clicks, impressions),
            cpc=ratio(cost, clicks * 1_000_000),
            cpa=ratio(cost, conversions * 1_000_000),
            roas=ratio(revenue, cost),
        )
        out[row.key] = row
    return out


def compute_file(path: str | os.PathLike[str]) -> dict[Key, WindowRow]:
    """The window rows of an Avazu file (gzip or plain), replayed through include.ingest."""
    return compute(events_from_avazu(path))


def main(argv: list[str] | None = None) -> int:
    """``python -m include.flink_jobs.ad_window_metrics.oracle FILE``: rows, and the time it took."""
    import argparse
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", help="Avazu CSV (gzip or plain)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = compute_file(args.file)
    elapsed = time.perf_counter() - started
    n_all = sum(r.impressions for r in rows.values() if r.dimension == "all" and r.window_size_s == 60)
    print(f"{len(rows)} window rows from {n_all} events in {elapsed:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
