"""The GX gate: a clean day passes, each planted violation fails naming its expectation (real GX)."""

from __future__ import annotations

from datetime import date

import pytest

from include.batch.extract import extract_day
from include.batch.validate import ValidationFailed, load_frame, validate_frame
from include.ingest.generator import main as generate

DAY = date(2014, 10, 21)


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("gx")
    src = tmp / "in.csv"
    assert generate(["--rows", "4000", "--start-hour", "14102100", "--hours", "24", "--seed", "2",
                     "--out", str(src), "--no-progress"]) == 0  # fmt: skip
    return load_frame(extract_day(DAY, "avazu", tmp, src).parquet_path)


def test_clean_day_passes(frame):
    report = validate_frame(frame, DAY)
    assert report.success and report.rows == 4000 and report.expectations == 17


def _plant_duplicate(f):
    f.loc[7, "event_id"] = f.loc[3, "event_id"]


def _plant_other_day(f):
    f.loc[5, "event_time_ms"] += 86_400_000


def _plant_bad_click(f):
    f.loc[2, "click"] = 2


def _plant_conversion_without_click(f):
    row = f.index[f["click"] == 0][0]
    f.loc[row, ["conversion", "has_revenue", "revenue"]] = [1, 1, 12.5]


def _plant_revenue_without_conversion(f):
    row = f.index[f["conversion"] == 0][0]
    f.loc[row, ["has_revenue", "revenue"]] = [1, 3.0]


def _plant_free_impression(f):
    f.loc[9, "cost"] = 0.0


@pytest.mark.parametrize(
    ("plant", "expectation"),
    [
        pytest.param(_plant_duplicate, "expect_column_values_to_be_unique(column=event_id)", id="dup-id"),
        pytest.param(_plant_other_day, "expect_column_values_to_be_between(column=event_time_ms)", id="day"),
        pytest.param(_plant_bad_click, "expect_column_values_to_be_in_set(column=click)", id="click"),
        pytest.param(
            _plant_conversion_without_click,
            "expect_column_pair_values_a_to_be_greater_than_b(column_A=click, column_B=conversion)",
            id="conv-no-click",
        ),
        pytest.param(
            _plant_revenue_without_conversion,
            "expect_column_pair_values_to_be_equal(column_A=conversion, column_B=has_revenue)",
            id="revenue-no-conv",
        ),
        pytest.param(_plant_free_impression, "expect_column_values_to_be_between(column=cost)", id="cost"),
    ],
)
def test_planted_violation_fails_naming_the_expectation(frame, plant, expectation):
    planted = frame.copy()
    plant(planted)
    with pytest.raises(ValidationFailed) as err:
        validate_frame(planted, DAY)
    assert str(err.value).startswith("ad_events_daily failed for 2014-10-21: ")
    assert any(f.startswith(expectation) for f in err.value.failures), err.value.failures


def test_empty_day_fails_on_row_count(frame):
    with pytest.raises(ValidationFailed, match="expect_table_row_count_to_be_between"):
        validate_frame(frame.iloc[0:0], DAY)
