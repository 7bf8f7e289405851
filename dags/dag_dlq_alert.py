"""
### DLQ alert

Every hour: the DLQ rate of the last hour, `dead letters / (raw events + dead letters)`, from Kafka
offsets (`offsets_for_times` on `ad_events_raw` and `ad_events_error`: no event is read), against
two thresholds. At or above `DLQ_ALERT_WARN_RATIO` (0.1%) it posts a warning, at or above
`DLQ_ALERT_ALERT_RATIO` (1%) an alert, with the top error types and a few example dead letters;
below, it stays quiet. The retry topics are not counted (they hold the same dead letters again).

| task | what it does |
| --- | --- |
| `measure` | include/dlq/alert.py `dlq_rate`; the counts, rate, level and examples are the XCom |
| `notify` | one Slack message when the level is warn or alert |

Params (all optional; empty = the setting): `raw_topic`, `dlq_topic`, `window_s`
(`DLQ_ALERT_WINDOW_S`), `warn_ratio`, `alert_ratio`. Runbook: docs/dlq.md.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from include.dag_defaults import KAFKA_NAME_PATTERN, dag_args, optional_param


@dag(
    dag_id="dag_dlq_alert",
    schedule="@hourly",
    doc_md=__doc__,
    **dag_args(),
    tags=["dlq"],
    description="Hourly DLQ rate (dead letters / all events) against 0.1% / 1%; Slack when above",
    params={
        "raw_topic": optional_param(
            "string", "Kafka topic of the valid events", "setting:TOPIC_RAW", pattern=KAFKA_NAME_PATTERN
        ),
        "dlq_topic": optional_param(
            "string", "Dead-letter topic", "setting:TOPIC_DLQ", pattern=KAFKA_NAME_PATTERN
        ),
        "window_s": optional_param(
            "integer",
            "Seconds of traffic to measure, 60 to 604800 (a week)",
            "setting:DLQ_ALERT_WINDOW_S",
            minimum=60,
            maximum=7 * 86400,
        ),
        "warn_ratio": optional_param(
            "number",
            "Share of dead letters that posts a warning, 0 to 1 (0.001 = 0.1%)",
            "setting:DLQ_ALERT_WARN_RATIO",
            minimum=0,
            maximum=1,
        ),
        "alert_ratio": optional_param(
            "number",
            "Share of dead letters that posts an alert, 0 to 1 (0.01 = 1%)",
            "setting:DLQ_ALERT_ALERT_RATIO",
            minimum=0,
            maximum=1,
        ),
    },
)
def dag_dlq_alert() -> None:
    @task
    def measure(params: dict[str, Any] | None = None) -> dict[str, Any]:
        from include.dlq import settings
        from include.dlq.alert import dlq_rate

        assert params is not None
        cfg = settings.resolve()

        def pick(name: str, setting: str) -> float:
            return float(cfg[setting] if params[name] is None else params[name])

        result = dlq_rate(
            cfg["KAFKA_BOOTSTRAP_SERVERS"],
            params["raw_topic"] or cfg["TOPIC_RAW"],
            params["dlq_topic"] or cfg["TOPIC_DLQ"],
            pick("window_s", "DLQ_ALERT_WINDOW_S"),
            pick("warn_ratio", "DLQ_ALERT_WARN_RATIO"),
            pick("alert_ratio", "DLQ_ALERT_ALERT_RATIO"),
        )
        rate = "n/a (no events)" if result.rate is None else f"{result.rate:.4%}"
        print(f"DLQ rate {rate}: {result.dlq} dead letters, {result.raw} raw events; level {result.level}")
        return {**result.to_dict(), "slack_text": result.slack_text()}

    @task
    def notify(result: dict[str, Any]) -> bool:
        from plugins.slack_alerts.notifiers import post_message

        if not result.get("slack_text"):
            print(f"level {result['level']}: below the warning threshold, nothing to post")
            return False
        post_message(result["slack_text"])
        return True

    notify(measure())


dag_dlq_alert()
