"""The Slack texts of the DLQ retry and the DLQ alert: levels, thresholds, quiet when nothing to say."""

from __future__ import annotations

import pytest

from include.dlq.alert import DlqRate
from include.dlq.report import DrainReport, GaveUp
from include.dlq.retry_topics import retry_topic, topic_levels


def rate(raw: int, dlq: int) -> DlqRate:
    return DlqRate("raw", "dlq", 3600, raw, dlq, 0.001, 0.01, {"schema": dlq}, [], dlq)


@pytest.mark.parametrize(
    ("raw", "dlq", "level"),
    [(0, 0, "ok"), (1000, 0, "ok"), (1000, 1, "ok"), (999, 1, "warn"), (990, 10, "alert"), (0, 5, "alert")],
)
def test_levels_at_the_thresholds(raw, dlq, level):
    assert rate(raw, dlq).level == level
    assert (rate(raw, dlq).slack_text() is None) == (level == "ok")


def test_alert_text_names_rate_topics_and_types():
    text = rate(975, 25).slack_text()
    assert text is not None
    assert text.startswith(
        ":rotating_light: DLQ rate ALERT: 2.50% of events dead-lettered in the last 60 min"
    )
    assert "25 in dlq vs 975 in raw" in text and "top error types: schema 25" in text


def test_drain_summary_only_when_something_failed_for_good():
    report = DrainReport("run-1", "ad_events_error", "ad_events_raw", "dlq_retry", read=4, republished=2)
    assert report.slack_text() is None
    report.permanent, report.permanent_by_type = 2, {"late_event": 1, "schema": 1}
    report.examples = [
        GaveUp("ad_events_error:0:7", "42", "schema", "schema", "click must be 0/1", "attempts_exhausted", 3)
    ]
    text = report.slack_text()
    assert text is not None and "2 dead letter(s) from ad_events_error failed permanently" in text
    assert (
        "ad_events_error:0:7 event 42: schema: click must be 0/1 (attempts_exhausted, 3 attempt(s))" in text
    )


def test_retry_topic_names():
    assert retry_topic("ad_events_error", 2) == "ad_events_error_retry_2"


def test_the_retry_reads_the_dlq_and_one_topic_per_failed_attempt_but_the_last():
    assert topic_levels("ad_events_error", 3) == {
        "ad_events_error": 0,
        "ad_events_error_retry_1": 1,
        "ad_events_error_retry_2": 2,
    }
    assert topic_levels("ad_events_error", 1) == {"ad_events_error": 0}
