"""When a replay's hours reach back behind the streaming job's watermark (pure logic)."""

from __future__ import annotations

from include.ingest.event_time import hour_start_ms
from include.ingest.ranges import late_replay_warning

HOUR = "14102100"
START = hour_start_ms(HOUR)


def test_no_watermark_or_a_watermark_before_the_hours_means_no_warning():
    assert late_replay_warning(HOUR, "14102101", None) is None
    assert late_replay_warning(HOUR, "14102101", START - 1) is None


def test_a_watermark_inside_the_hours_warns_about_the_events_up_to_it():
    warning = late_replay_warning(HOUR, "14102101", START + 90 * 60_000)
    assert warning is not None
    assert "2014-10-21 01:30:00 UTC" in warning and "the events up to it" in warning
    assert "late_event" in warning


def test_a_watermark_at_or_past_the_last_event_makes_every_event_late():
    last_event = hour_start_ms("14102101") + 3_600_000 - 1
    for mark in (last_event, last_event + 86_400_000):
        warning = late_replay_warning(HOUR, "14102101", mark)
        assert warning is not None and "every event" in warning
    assert "the events up to it" in (late_replay_warning(HOUR, "14102101", last_event - 1) or "")
