"""The Slack texts of the DLQ retry and the DLQ alert: levels, thresholds, quiet when nothing to say."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from include.dlq.alert import DlqRate
from include.dlq.report import DrainReport, stored_recently
from include.dlq.retry_topics import retry_topic, topic_levels
from include.dlq.rows import PermanentRow


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


def test_rate_alert_links_the_alert_dag_on_the_external_url(monkeypatch):
    monkeypatch.setenv("AIRFLOW_EXTERNAL_URL", "https://airflow.example.org/")
    text = rate(975, 25).slack_text()
    assert text is not None
    assert text.splitlines()[0].endswith("· <https://airflow.example.org/dags/dag_dlq_alert|details>")


def nothing_reported(_report, _types):
    return set()


def drained(
    by_type: dict[str, int], run_id: str = "airflow-manual__2026-12-01T10:00:00+00:00"
) -> DrainReport:
    report = DrainReport(run_id, "ad_events_error", "ad_events_raw", "dlq_retry", read=9, republished=2)
    for error_type, n in by_type.items():
        for i in range(n):
            report._gave_up(
                SimpleNamespace(
                    permanent=PermanentRow(
                        ("ad_events_error", 0, 7 + i), "42", "{}", error_type, "first", None, 3, None,
                        "producer", None, None, None, error_type, "click must be 0/1\n  detail", "attempts_exhausted",
                    )
                )
            )  # fmt: skip
    return report


def test_drain_digest_is_one_headline_with_counts_by_type_and_a_details_link(monkeypatch):
    monkeypatch.setenv("AIRFLOW_EXTERNAL_URL", "https://airflow.example.org")
    report = drained({"schema": 2, "flink_logic": 1, "late_event": 40})
    assert report.permanent == 43 and [ex.error_type for ex in report.examples] == [
        "schema", "flink_logic", "late_event"
    ], "one example per error type"  # fmt: skip
    text = report.slack_text(nothing_reported)
    assert text is not None
    headline, example = text.splitlines()
    assert headline == (
        ":rotating_light: DLQ retry: 3 dead letters from ad_events_error failed for good: schema 2, "
        "flink_logic 1 (+40 late_event, expected during a replay) · <https://airflow.example.org/dags/"
        "dag_dlq_retry/runs/manual__2026-12-01T10%3A00%3A00%2B00%3A00/tasks/drain|details>"
    )
    assert example == (
        "e.g. ad_events_error:0:7 event 42: schema: click must be 0/1 detail (attempts_exhausted) · "
        "errors.dlq_errors WHERE run_id = 'airflow-manual__2026-12-01T10:00:00+00:00'"
    )


def test_drain_digest_is_quiet_without_a_permanent_failure_or_with_late_events_only():
    def never_called(_report, _types):
        raise AssertionError("no lookup needed")

    assert drained({}).slack_text(never_called) is None
    assert drained({"late_event": 500}).slack_text(never_called) is None


def test_drain_digest_is_not_repeated_for_types_another_run_already_stored():
    report = drained({"schema": 3, "parsing": 1})
    asked = []

    def reported(rep, types):
        asked.append((rep.dlq_topic, sorted(types)))
        return {"schema"}

    text = report.slack_text(reported)
    assert asked == [("ad_events_error", ["parsing", "schema"])]
    assert text is not None and "failed for good: schema 3 (again), parsing 1 ·" in text
    assert "event 42: parsing:" in text, "the example is of the new type"
    assert report.slack_text(lambda _r, _t: {"schema", "parsing"}) is None


def test_a_cli_run_links_the_dag_and_an_unreachable_database_posts_rather_than_drops(monkeypatch):
    import psycopg2

    def down(*_a, **_k):
        raise psycopg2.OperationalError("connection refused")

    monkeypatch.setattr(psycopg2, "connect", down)
    report = drained({"schema": 1}, run_id="20261201T100000Z-abc123")
    assert stored_recently(report, ["schema"]) == set()
    text = report.slack_text()
    assert text is not None and text.startswith(":rotating_light: DLQ retry: 1 dead letter from")
    assert "/dags/dag_dlq_retry|details>" in text


def test_retry_topic_names():
    assert retry_topic("ad_events_error", 2) == "ad_events_error_retry_2"


def test_the_retry_reads_the_dlq_and_one_topic_per_failed_attempt_but_the_last():
    assert topic_levels("ad_events_error", 3) == {
        "ad_events_error": 0,
        "ad_events_error_retry_1": 1,
        "ad_events_error_retry_2": 2,
    }
    assert topic_levels("ad_events_error", 1) == {"ad_events_error": 0}


def test_dead_letter_values_in_the_digests_are_shown_literally(monkeypatch):
    """Error types, messages and topics come from the dead letters: a mention or a link in them is text."""
    monkeypatch.setenv("AIRFLOW_EXTERNAL_URL", "https://airflow.example.org")
    report = DrainReport("cli-1", "scratch_dlq_x", "ad_events_raw", "dlq_retry")
    report._gave_up(
        SimpleNamespace(
            permanent=PermanentRow(
                ("scratch_dlq_x", 0, 1), "<!channel>", "{}", "<!here>", "first", None, 3, None, "producer",
                None, None, None, "<!here>", "see <http://evil.example|click> & pay", "attempts_exhausted",
            )
        )
    )  # fmt: skip
    digest = report.slack_text(nothing_reported)
    alert = DlqRate(
        "raw", "dlq", 3600, 10, 10, 0.001, 0.01, {"<!channel>": 10},
        [{"error_type": "<!here>", "source": "producer", "event_id": "1", "error_message": "<http://evil|x>"}], 10,
    ).slack_text()  # fmt: skip
    for text in (digest, alert):
        assert text is not None
        assert "<!" not in text and "<http://evil" not in text, text
    assert "event &lt;!channel&gt;: &lt;!here&gt;: see &lt;http://evil.example|click&gt; &amp; pay" in digest
    assert "&lt;!channel&gt; 10" in alert and "&lt;http://evil|x&gt;" in alert
    assert "<https://airflow.example.org/dags/dag_dlq_retry|details>" in digest  # our own link still works
