"""The Slack failure message carries what an on-call engineer needs, and reaches the webhook."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from include import config
from plugins.slack_alerts.notifiers import PipelineFailureNotifier, error_line, failure_message


def _context(exception):
    ti = SimpleNamespace(
        dag_id="dag_x",
        task_id="load",
        run_id="manual__1",
        try_number=3,
        log_url="http://af/dags/dag_x/runs/manual__1/tasks/load",
    )
    return {"ti": ti, "exception": exception}


@pytest.mark.parametrize(
    ("exception", "expected"),
    [
        pytest.param(ValueError("bad hour range\ndetail"), "ValueError: bad hour range", id="multi-line"),
        pytest.param(RuntimeError(""), "RuntimeError", id="empty-message"),
        pytest.param(None, "no exception recorded", id="none"),
        pytest.param("killed by SIGTERM", "killed by SIGTERM", id="string"),
    ],
)
def test_error_line(exception, expected):
    assert error_line(exception).startswith(expected)


def test_message_names_dag_task_run_try_error_and_log():
    message = failure_message(_context(KeyError("hour")))
    for part in (
        "dag_x.load",
        "manual__1",
        "try: 3",
        "KeyError: 'hour'",
        config.get("AIRFLOW_EXTERNAL_URL") + "/dags/dag_x/runs/manual__1/tasks/load",
    ):
        assert part in message["text"]
    assert message["blocks"][0]["text"]["text"] == "Task failed: dag_x.load"


def test_notify_posts_through_the_hook():
    sent = []
    notifier = PipelineFailureNotifier(slack_webhook_conn_id="slack_alerts")
    notifier.__dict__["hook"] = SimpleNamespace(send=lambda **kw: sent.append(kw))
    notifier.notify(_context(ValueError("boom")))
    assert len(sent) == 1 and "ValueError: boom" in sent[0]["text"]


def test_slack_outage_does_not_raise():
    def down(**_):
        raise ConnectionError("slack unreachable")

    notifier = PipelineFailureNotifier()
    notifier.__dict__["hook"] = SimpleNamespace(send=down)
    notifier.notify(_context(ValueError("boom")))


def test_the_log_link_opens_the_ui_where_people_reach_it(monkeypatch):
    monkeypatch.setenv("AIRFLOW_EXTERNAL_URL", "https://airflow.example.org/")
    message = failure_message(_context(KeyError("hour")))
    link = "https://airflow.example.org/dags/dag_x/runs/manual__1/tasks/load"
    assert message["text"].endswith(f"log: {link}")
    assert message["blocks"][-1]["text"]["text"] == f"<{link}|Open the task log>"


def test_hostile_values_in_a_failure_are_shown_literally():
    """A run id, a file name in the error or a param can carry Slack controls: none of them works."""
    context = _context(ValueError("file: data/raw/<!channel> <http://evil.example|click>.csv not found"))
    context["ti"].run_id = "manual__<!here>"
    message = failure_message(context)
    mrkdwn = [message["text"]] + [
        t["text"] for b in message["blocks"][1:] for t in [b.get("text") or {}, *b.get("fields", [])] if t
    ]
    for text in mrkdwn:
        assert "<!channel>" not in text and "<!here>" not in text and "<http://evil" not in text, text
    assert "&lt;!channel&gt; &lt;http://evil.example|click&gt;.csv" in message["text"]
    assert "manual__&lt;!here&gt;" in message["text"]
    # The header is plain text (Slack shows it as written), the log link still a link.
    assert message["blocks"][0]["text"]["type"] == "plain_text"
    assert message["blocks"][-1]["text"]["text"].startswith("<http") and "|Open the task log>" in mrkdwn[-1]


def test_a_failed_validation_links_its_data_docs_page_outside_the_code_block():
    from include.batch.validate import ValidationFailed

    page = "http://af.example/docs-sites/gx/validations/ad_events_daily/2014-10-21/x.html"
    message = failure_message(
        _context(ValidationFailed("ad_events_daily", "2014-10-21", ["clicks < 0"], page))
    )
    assert f"details: {page}\n" in message["text"]
    assert message["blocks"][-2]["text"]["text"] == f"<{page}|Open the failed checks>"
    assert message["blocks"][-1]["text"]["text"].endswith("|Open the task log>")


def test_a_plain_error_has_no_details_link():
    message = failure_message(_context(KeyError("hour")))
    assert "details:" not in message["text"]
    assert [b for b in message["blocks"] if "Open the failed checks" in str(b)] == []
