"""Stream or backfill, decided from the live job's watermark (include/backfill/plan.py)."""

from __future__ import annotations

import pytest

from include.backfill.plan import HOUR_MS, Plan, PlanError, choose
from include.ingest.event_time import hour_start_ms

H10, H11, H12 = "14102110", "14102111", "14102112"


def end_of(hour: str) -> int:
    """The last millisecond of ``hour``."""
    return hour_start_ms(hour) + HOUR_MS - 1


@pytest.mark.parametrize(
    ("watermark", "mode", "intended", "stream", "backfill"),
    [
        pytest.param(None, "auto", False, (H10, H12), None, id="no-live-job-streams"),
        pytest.param(hour_start_ms(H10) - 1, "auto", False, (H10, H12), None, id="all-ahead-streams"),
        pytest.param(end_of(H12), "auto", False, None, (H10, H12), id="all-behind-backfills"),
        pytest.param(end_of(H10), "auto", False, (H11, H12), (H10, H10), id="split-at-the-watermark"),
        pytest.param(end_of(H12), "stream", True, (H10, H12), None, id="late-events-intended"),
        pytest.param(end_of(H12), "auto", True, (H10, H12), None, id="intended-overrides-auto"),
        pytest.param(hour_start_ms(H10) - 1, "backfill", False, None, (H10, H12), id="forced-backfill"),
        pytest.param(None, "backfill", False, None, (H10, H12), id="forced-backfill-no-job"),
    ],
)
def test_choose(watermark: int | None, mode: str, intended: bool, stream: object, backfill: object) -> None:
    plan = choose(H10, H12, watermark, mode, intended)
    assert isinstance(plan, Plan)
    assert (plan.stream, plan.backfill) == (stream, backfill)
    assert plan.reason


@pytest.mark.parametrize(
    ("watermark", "mode", "match"),
    [
        pytest.param(hour_start_ms(H11) + 5, "auto", "hour 14102111 is in progress", id="watermark-inside"),
        pytest.param(end_of(H12), "stream", "late_events_intended", id="forced-stream-behind"),
        pytest.param(hour_start_ms(H11), "stream", "late_event", id="forced-stream-partly-behind"),
        pytest.param(None, "sideways", "mode must be one of", id="bad-mode"),
    ],
)
def test_choose_refuses_with_the_reason(watermark: int | None, mode: str, match: str) -> None:
    with pytest.raises(PlanError, match=match):
        choose(H10, H12, watermark, mode)
