"""include/metrics_contract.py is the one definition the layers follow: its own rules, the
independent oracle's agreement with it, and every Python consumer (Flink SQL, table readers, Redis
writer, dashboard) naming the same columns, ratios, sizes and dimensions. The dbt macro is held to
it by tests/dbt/test_metric_contract.py."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from pathlib import Path

import pytest

from dashboard import metrics as dashboard_metrics
from dashboard import queries as dashboard_queries
from include import metrics_contract as contract
from include.flink_jobs.ad_window_metrics import oracle, redis_cache, sql, table

REPO = Path(__file__).resolve().parents[2]
WINDOW_TABLE_DDL = REPO / "include" / "db" / "migrations" / "V002__realtime_window_metrics.sql"


def test_each_ratio_divides_two_measures_and_is_null_on_a_zero_denominator():
    assert len(set(contract.RATIO_NAMES)) == len(contract.RATIOS)
    for r in contract.RATIOS:
        assert {r.numerator, r.denominator} <= set(contract.MEASURES), r
    sums = {"impressions": 0, "clicks": 0, "conversions": 0, "cost": Decimal(0), "revenue": Decimal(1)}
    assert contract.ratios(sums) == {"ctr": None, "cpc": None, "cpa": None, "roas": None}
    got = contract.ratios({"impressions": 8, "clicks": 2, "conversions": 1, "cost": "0.5", "revenue": "2"})
    assert got == {"ctr": Decimal("0.25"), "cpc": Decimal("0.25"), "cpa": Decimal("0.5"), "roas": Decimal(4)}
    assert contract.ratio(None, 3) is None and contract.ratio(3, None) is None


def test_the_stream_rounds_ratios_half_up_to_the_money_scale():
    assert contract.stream_rounded(Decimal("0.0000005")) == Decimal("0.000001")
    assert contract.stream_rounded(Decimal("0.00000049")) == Decimal("0.000000")
    assert contract.stream_rounded(Decimal(2) / Decimal(3)) == Decimal("0.666667")
    assert contract.stream_rounded(None) is None
    assert contract.MONEY_SQL_TYPE == contract.STREAM_RATIO_SQL_TYPE == "DECIMAL(18, 6)"


@pytest.mark.parametrize(
    ("numerator", "denominator"),
    [(1, 2_000_000), (131, 7919), (2, 3), (170, 1000), (5, 0), (0, 7), (10**12 + 1, 3)],
)
def test_the_independent_oracle_agrees_with_the_contract(numerator, denominator):
    want = contract.stream_rounded(contract.ratio(numerator, denominator))
    assert oracle.ratio(numerator, denominator) == want


def test_the_oracle_has_the_contract_windows_dimensions_and_row():
    assert oracle.WINDOW_SIZES_S == contract.WINDOW_SIZES_S
    assert list(oracle.DIMENSIONS.items()) == list(contract.DIMENSIONS.items())
    assert tuple(f.name for f in dataclasses.fields(oracle.WindowRow)) == contract.WINDOW_COLUMNS


def test_the_window_table_is_declared_as_the_contract_says():
    ddl = WINDOW_TABLE_DDL.read_text()
    declared = dict(re.findall(r"^\s{4}(\w+)\s+(\w+(?:\(\d+,\d+\))?)", ddl, re.M))
    assert set(contract.WINDOW_COLUMNS) <= set(declared)
    numeric = f"numeric({contract.MONEY_PRECISION},{contract.MONEY_SCALE})"
    for column in (*contract.MONEY, *contract.RATIO_NAMES):
        assert declared[column] == numeric, column
    sizes = re.search(r"window_size_s IN \(([^)]*)\)", ddl)[1]
    assert tuple(int(s) for s in sizes.split(",")) == contract.WINDOW_SIZES_S
    dimensions = re.search(r"dimension IN \(([^)]*)\)", ddl)[1]
    assert re.findall(r"'(\w+)'", dimensions) == [contract.ALL_DIMENSION, *contract.DIMENSIONS]
    assert f"PRIMARY KEY ({', '.join(contract.WINDOW_KEY)})" in ddl


def test_the_flink_sql_renders_every_ratio_size_and_dimension():
    query = sql.window_metrics_query()

    def operand(measure: str) -> str:  # counts are cast to an exact DECIMAL first
        return rf"(?:CAST\({measure} AS DECIMAL\(19, 0\)\)|{measure})"

    for r in contract.RATIOS:
        ratio = rf"CAST\({operand(r.numerator)} / NULLIF\({operand(r.denominator)}, 0\) AS DECIMAL\(18, 6\)\)"
        assert re.search(rf"{ratio} AS {r.name}\b", query), r
    for size_s in contract.WINDOW_SIZES_S:
        assert f"{size_s} AS window_size_s" in query
    for dimension, column in contract.DIMENSIONS.items():
        assert f"WHEN GROUPING({column}) = 0 THEN '{dimension}'" in query
    sink = sql.jdbc_sink_ddl("t", url="u", sink_table="s", username="x", password="y")
    declared = [c for c in re.findall(r"^    (\w+) ", sink, re.M) if c != "PRIMARY"]
    assert declared == list(contract.WINDOW_COLUMNS)
    assert f"PRIMARY KEY ({', '.join(contract.WINDOW_KEY)})" in sink
    assert sql.METRICS_COLUMNS == contract.WINDOW_COLUMNS


def test_readers_and_writers_name_the_contract_columns():
    assert table.COLUMNS.split(", ") == list(contract.WINDOW_COLUMNS)
    assert dashboard_queries.WINDOW_COLUMNS.split(", ") == list(contract.WINDOW_COLUMNS)
    assert (*contract.MEASURES, *contract.RATIO_NAMES) == redis_cache.METRIC_COLUMNS
    window_fields = {f.name for f in dataclasses.fields(dashboard_metrics.Window)}
    assert {*contract.MEASURES, *contract.RATIO_NAMES} <= window_fields


def test_the_dashboard_formats_every_measure_and_ratio():
    assert set(dashboard_metrics.KPI_FORMATS) == {*contract.MEASURES, *contract.RATIO_NAMES}
    sums = {"impressions": 1000, "clicks": 170, "conversions": 0, "cost": Decimal("37.5"), "revenue": 0}
    assert dashboard_metrics.ratios(**sums) == contract.ratios(sums)
