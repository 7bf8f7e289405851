"""The latency bench's closing moment (pure): a window closes when every partition has produced a
record that moves the watermark past its end, and not before."""

from __future__ import annotations

from bench.latency import closing_moments
from include.ingest.end_of_input import JOB_WATERMARK_DELAY_MS

END = 60_000
PAST = END + JOB_WATERMARK_DELAY_MS - 1  # the first event time whose watermark fires the window


def test_the_window_closes_with_the_last_partition_to_get_past_its_end() -> None:
    records = {
        0: [(END - 1, 1_000), (PAST + 1, 2_000), (PAST + 2, 3_000)],
        1: [(PAST - 1, 1_500), (PAST, 2_500), (PAST + 5, 2_600)],
    }
    assert closing_moments(records, [END]) == {END: 2_500}


def test_a_window_some_partition_never_got_past_is_left_out() -> None:
    records = {0: [(PAST, 1_000)], 1: [(PAST - 1, 1_200)]}
    assert closing_moments(records, [END, END - 60_000]) == {END - 60_000: 1_200}
