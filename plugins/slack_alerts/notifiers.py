"""Slack notifier used as every DAG's ``on_failure_callback``."""

from __future__ import annotations

from typing import Any

from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

from include.airflow_links import rebase
from include.slack_text import escape, link


def error_line(exception: BaseException | str | None) -> str:
    """The line a traceback ends with (``Type: message``), cut to the message's first line."""
    if exception is None:
        return "no exception recorded (the task may have been killed or timed out)"
    lines = [line for line in str(exception).splitlines() if line.strip()]
    message = lines[0].strip() if lines else ""
    if isinstance(exception, BaseException):
        return f"{type(exception).__name__}: {message}" if message else type(exception).__name__
    return message


def failure_message(context: dict[str, Any]) -> dict[str, Any]:
    """The Slack payload for a failed task: DAG, task, run, try, the error's last line, log link.

    Every value is escaped for mrkdwn (include/slack_text.py): a run id, a param echoed in the error
    or a file name may hold ``<!channel>`` or a disguised link. The header is plain text, shown as is.
    """
    ti = context["ti"]
    raw_title = f"Task failed: {ti.dag_id}.{ti.task_id}"
    dag_id, task_id, run_id = escape(ti.dag_id), escape(ti.task_id), escape(ti.run_id)
    error = escape(error_line(context.get("exception")))
    raw_log_url = rebase(getattr(ti, "log_url", "") or "")
    log_url = escape(raw_log_url)
    # An error with a page of its own (a failed validation's Data Docs) gets a link that opens it:
    # inside the error's code block Slack would show the address as plain text.
    page_url = getattr(context.get("exception"), "page_url", None)
    text = (
        f":red_circle: Task failed: {dag_id}.{task_id}\n"
        f"run: {run_id}  try: {ti.try_number}\n"
        f"error: {error}\n" + (f"details: {escape(page_url)}\n" if page_url else "") + f"log: {log_url}"
    )
    fields = [
        {"type": "mrkdwn", "text": f"*DAG*\n{dag_id}"},
        {"type": "mrkdwn", "text": f"*Task*\n{task_id}"},
        {"type": "mrkdwn", "text": f"*Run*\n{run_id}"},
        {"type": "mrkdwn", "text": f"*Try*\n{ti.try_number}"},
    ]
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": raw_title[:150]}},
        {"type": "section", "fields": fields},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Error*\n```{error}```"}},
    ]
    if page_url:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": link(page_url, "Open the failed checks")}}
        )
    blocks.append(
        {"type": "section", "text": {"type": "mrkdwn", "text": link(raw_log_url, "Open the task log")}}
    )
    return {"text": text, "blocks": blocks}


class PipelineFailureNotifier(SlackWebhookNotifier):
    """Posts one Slack message per failed task through the ``slack_alerts`` webhook connection.

    The provider's webhook notifier with two changes, the reason this class exists: the message is
    built from the failed task's context (:func:`failure_message`: our format, every value escaped),
    and a failure to reach Slack is logged, never raised, so it cannot mask the task's own error.

    - The webhook URL lives in the connection (AIRFLOW_CONN_SLACK_ALERTS, from SLACK_WEBHOOK_URL),
      never in code; by default it is the local Slack sink of the local stack.

    :param slack_webhook_conn_id: Slack incoming-webhook connection. Default: ``slack_alerts``.
    """

    def __init__(self, *, slack_webhook_conn_id: str = "slack_alerts") -> None:
        super().__init__(slack_webhook_conn_id=slack_webhook_conn_id, text="")

    def notify(self, context: dict[str, Any]) -> None:
        message = failure_message(context)
        try:
            self.hook.send(text=message["text"], blocks=message["blocks"])
        except Exception as exc:
            self.log.error("could not post the failure to Slack (%s): %s", self.slack_webhook_conn_id, exc)
        from plugins.airflow_api.hooks import AirflowApiHook

        ti = context["ti"]
        error = error_line(context.get("exception"))
        AirflowApiHook().note_outcome(context, f"**Failed** in `{ti.task_id}` (try {ti.try_number}): {error}")


def notify_failure(*, slack_webhook_conn_id: str = "slack_alerts") -> PipelineFailureNotifier:
    """Function-style alias: ``on_failure_callback=notify_failure()``."""
    return PipelineFailureNotifier(slack_webhook_conn_id=slack_webhook_conn_id)


def post_message(text: str, *, slack_webhook_conn_id: str = "slack_alerts") -> None:
    """Posts one plain message (operational news that is not a task failure, e.g. a job restart).

    ``text`` is mrkdwn as given: its author escapes every value in it (include/slack_text.py).
    """
    from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

    SlackWebhookHook(slack_webhook_conn_id=slack_webhook_conn_id).send(text=text)
