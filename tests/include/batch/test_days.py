"""Which day a run processes, and where its files and partition live."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from include.batch import days


@pytest.mark.parametrize(
    ("param", "logical", "run_after", "expected"),
    [
        pytest.param("2014-10-21", None, None, date(2014, 10, 21), id="param-wins"),
        pytest.param("", datetime(2014, 10, 22, tzinfo=UTC), None, date(2014, 10, 21), id="scheduled"),
        pytest.param(None, None, datetime(2026, 1, 2, 0, 5, tzinfo=UTC), date(2026, 1, 1), id="manual-no-ld"),
        pytest.param(
            None, datetime(2014, 10, 22, 1, 0, tzinfo=UTC), None, date(2014, 10, 21), id="after-midnight"
        ),
    ],
)
def test_resolve_day(param: str | None, logical: datetime | None, run_after: datetime | None, expected: date):
    assert days.resolve_day(param, logical, run_after) == expected


@pytest.mark.parametrize("bad", ["2014/10/21", "21-10-2014", "2014-13-01", "yesterday"])
def test_parse_day_rejects_typos(bad: str):
    with pytest.raises(ValueError, match="day|month"):
        days.parse_day(bad)


def test_resolve_day_without_any_date_fails():
    with pytest.raises(ValueError, match="no day param"):
        days.resolve_day(None, None, None)


def test_paths_and_names():
    d = date(2014, 10, 21)
    assert days.avazu_hours(d) == ("14102100", "14102123")
    assert days.day_bounds_ms(d) == (1413849600000, 1413849600000 + 86_400_000)
    assert days.parquet_dir(Path("/d"), d) == Path("/d/processed/parquet/dt=2014-10-21")
    assert days.partition_name(d) == "ad_events_p20141021"
