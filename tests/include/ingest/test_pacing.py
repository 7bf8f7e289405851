"""Pacing math and accounting arithmetic: pure functions, no stack needed."""

from __future__ import annotations

import pytest

from include.ingest.accounting import LATENCY_BUCKETS, AccountingReport, Counters
from include.ingest.pacing import Pace, Pacer

HOUR_MS = 3_600_000
T0 = 1_413_849_600_000  # 2014-10-21 00:00 UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("asap", Pace("asap"), id="asap"),
        pytest.param("live", Pace("live"), id="live"),
        pytest.param("speed:60", Pace("speed", 60.0), id="colon"),
        pytest.param("speed=0.5", Pace("speed", 0.5), id="equals-fraction"),
        pytest.param(" SPEED:3600 ", Pace("speed", 3600.0), id="case-and-space"),
    ],
)
def test_pace_parses_the_documented_forms(text, expected):
    assert Pace.parse(text) == expected


@pytest.mark.parametrize("text", ["fast", "speed", "speed:", "speed:-1", "speed:0", "speed:abc", ""])
def test_pace_rejects_anything_else_with_a_clear_message(text):
    with pytest.raises(ValueError, match="pace must be|speed factor must be"):
        Pace.parse(text)


def test_asap_never_waits_and_keeps_event_times():
    pacer = Pacer(Pace("asap"), T0, start_s=100.0, now_ms=T0 + 10**9)
    assert pacer.due(T0 + 5 * HOUR_MS) is None
    assert pacer.time_offset_ms == 0


def test_speed_60_replays_one_avazu_hour_per_minute_and_keeps_event_times():
    pacer = Pacer(Pace.parse("speed:60"), T0, start_s=100.0, now_ms=0)
    assert pacer.due(T0) == pytest.approx(100.0)
    assert pacer.due(T0 + HOUR_MS) == pytest.approx(160.0)
    assert pacer.due(T0 + 90 * 60_000) == pytest.approx(190.0)
    assert pacer.time_offset_ms == 0  # values identical to an asap replay


def test_live_rebases_the_first_event_to_now_and_keeps_the_deltas():
    now_ms = 1_800_000_000_000
    pacer = Pacer(Pace("live"), T0, start_s=5.0, now_ms=now_ms)
    assert T0 + pacer.time_offset_ms == now_ms
    later = T0 + 36_000
    assert later + pacer.time_offset_ms - now_ms == 36_000
    assert pacer.due(later) == pytest.approx(5.0 + 36.0)  # real time: speed 1


def _report(**kw):
    base = dict(
        replay_id="r", file="f", topic="t", dlq_topic="d", schema_id=1, pace="asap", workers=1,
        hour_from=None, hour_to=None, rows_read=10, published=7, dead_lettered=3, failed=0,
        by_error_type={"parsing": 2, "schema": 1}, failures={}, bytes_published=0, elapsed_s=2.0,
    )  # fmt: skip
    return AccountingReport(**{**base, **kw})


def test_report_is_ok_only_when_every_row_is_accounted_for_and_none_failed():
    assert _report().ok
    assert _report().unaccounted == 0
    assert not _report(published=6).ok  # one row vanished
    assert _report(published=6).unaccounted == 1
    failed = _report(published=6, failed=1)
    assert failed.unaccounted == 0 and not failed.ok
    assert _report(rows_read=10, published=8).unaccounted == -1  # a duplicate count is also wrong
    assert not _report(rows_read=10, published=8).ok


def test_report_renders_the_numbers_a_user_checks():
    text = _report().render()
    assert "rows read" in text and "dead-lettered" in text and "parsing=2, schema=1" in text
    assert "OK" in text.splitlines()[-1]
    assert "FAILED" in _report(published=1).render()


def test_counters_total_adds_workers_and_latency_buckets():
    a, b = Counters(), Counters()
    a.published, b.published = 3, 4
    a.by_error_type, b.by_error_type = {"schema": 1}, {"schema": 2, "parsing": 1}
    a.observe_latency(0.001)
    b.observe_latency(0.2)
    b.observe_latency(10_000.0)  # beyond the last bucket: +Inf
    total = Counters.total([a, b])
    assert total.published == 7
    assert total.by_error_type == {"schema": 3, "parsing": 1}
    assert sum(total.latency_buckets) == 3
    assert total.latency_buckets[0] == 1
    assert total.latency_buckets[LATENCY_BUCKETS.index(0.25)] == 1
    assert total.latency_buckets[-1] == 1
