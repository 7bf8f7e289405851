"""
### DLQ retry

Drains the dead-letter topic `ad_events_error` (setting `TOPIC_DLQ`) with its own consumer group
(`DLQ_RETRY_GROUP`), every 10 minutes or on demand. Each dead letter that is due (exponential
backoff: retry *n* waits `min(DLQ_RETRY_BACKOFF_BASE_S * 2^(n-1), DLQ_RETRY_BACKOFF_CAP_S)`) goes
through the repair rules (trim, number formats, lower-case hex, ...) and the producer's own
validation against the registered schema:

| outcome | where it goes |
| --- | --- |
| valid after repair | republished to `ad_events_raw` with the schema headers (`apicurio.value.contentId`, `__value_schema_id`), like the producer |
| still invalid, attempts left | `ad_events_error_retry_<n>`, waits for retry *n+1* |
| still invalid after the 3rd attempt, or a non-retryable type (`late_event`, `duplicate`, `flink_logic`) | `errors.dlq_errors`; new actionable types in a Slack digest |

Every attempt is a row of `errors.retry_history`. A killed or retried task loses and duplicates
nothing (Kafka transactions + idempotent PostgreSQL inserts; docs/dlq.md).

| task | what it does |
| --- | --- |
| `drain` | one pass of include/dlq/drain.py; the report (counts, depth, examples) is the XCom. The full payload of an over-long dead letter (`DLQ_PAYLOAD_DIR`) is deleted once the letter is republished or stored for good, and kept payloads older than `DLQ_PAYLOAD_RETENTION_DAYS` (default 30) are pruned |
| `alert` | a two-line Slack digest when an error type not reported in the last DLQ_ALERT_WINDOW_S failed for good; quiet for late events alone (dag_dlq_alert watches their rate) |

Params (all optional; empty = the setting): `dlq_topic`, `raw_topic`, `group_id`,
`backoff_base_s`, `backoff_cap_s`. The topics are limited to `TOPIC_DLQ` / `TOPIC_RAW` and the
allow-lists `TOPIC_DLQ_EXTRA` / `TOPIC_RAW_EXTRA` (docs/security.md): the form refuses any other,
and so does `drain` before it reads anything. Metrics: Pushgateway `job="dlq_retry"` (`dlq_retry_depth`, ...).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from include.dag_defaults import KAFKA_NAME_PATTERN, dag_args, optional_param
from include.kafka.topic_policy import param_pattern


@dag(
    dag_id="dag_dlq_retry",
    schedule="*/10 * * * *",
    doc_md=__doc__,
    **dag_args(
        max_active_runs=1
    ),  # one consumer of the retry group at a time (its transactional id fences others)
    tags=["dlq"],
    description="Every 10 min: repair and republish dead letters (3 tries), store the rest; Slack on new failures",
    params={
        "dlq_topic": optional_param(
            "string",
            "Dead-letter topic to drain: TOPIC_DLQ or one of TOPIC_DLQ_EXTRA",
            "setting:TOPIC_DLQ",
            pattern=param_pattern("dlq"),
        ),
        "raw_topic": optional_param(
            "string",
            "Where repaired events are republished: TOPIC_RAW or one of TOPIC_RAW_EXTRA",
            "setting:TOPIC_RAW",
            pattern=param_pattern("raw"),
        ),
        "group_id": optional_param(
            "string",
            "Kafka consumer group of the retry (letters, digits, . _ -)",
            "setting:DLQ_RETRY_GROUP",
            pattern=KAFKA_NAME_PATTERN,
        ),
        "backoff_base_s": optional_param(
            "number",
            "Seconds a dead letter waits before its 1st retry (doubles per retry), 0 to 86400",
            "setting:DLQ_RETRY_BACKOFF_BASE_S",
            minimum=0,
            maximum=86400,
        ),
        "backoff_cap_s": optional_param(
            "number",
            "Longest wait between two retries in seconds, 0 to 86400",
            "setting:DLQ_RETRY_BACKOFF_CAP_S",
            minimum=0,
            maximum=86400,
        ),
    },
)
def dag_dlq_retry() -> None:
    @task
    def drain(params: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
        from pathlib import Path

        from airflow.providers.postgres.hooks.postgres import PostgresHook
        from airflow.sdk.exceptions import AirflowFailException

        from include.config import param_or_setting
        from include.dlq import payloads, settings
        from include.dlq.backoff import BackoffPolicy
        from include.dlq.drain import DrainOptions
        from include.dlq.drain import drain as drain_once
        from include.kafka.topic_policy import refusal

        assert params is not None
        dlq = param_or_setting(params["dlq_topic"], "TOPIC_DLQ")
        raw = param_or_setting(params["raw_topic"], "TOPIC_RAW")
        if reason := refusal(dlq=dlq, raw=raw):
            raise AirflowFailException(f"invalid DLQ retry request: {reason}")
        cfg = settings.resolve()
        default = BackoffPolicy.from_config(cfg)
        policy = BackoffPolicy(
            base_s=default.base_s if params["backoff_base_s"] is None else float(params["backoff_base_s"]),
            cap_s=default.cap_s if params["backoff_cap_s"] is None else float(params["backoff_cap_s"]),
            max_attempts=default.max_attempts,
        )
        options = DrainOptions(
            dlq_topic=params["dlq_topic"] or None,
            raw_topic=params["raw_topic"] or None,
            group_id=params["group_id"] or None,
            policy=policy,
            run_id=f"airflow-{run_id}",
        )
        conn = PostgresHook(postgres_conn_id="pipeline_db_stream_writer").get_conn()
        try:
            report = drain_once(options, conn)
        finally:
            conn.close()
        print(report.summary())
        # Kept payloads the retry never settled (DLQ_PAYLOAD_DIR) are not kept forever.
        pruned = payloads.prune(Path(cfg["DLQ_PAYLOAD_DIR"]), float(cfg["DLQ_PAYLOAD_RETENTION_DAYS"]))
        print(f"kept payloads removed: {report.payloads_removed} settled, {pruned} past retention")
        return {**report.to_dict(), "payloads_pruned": pruned, "slack_text": report.slack_text()}

    @task
    def alert(report: dict[str, Any]) -> bool:
        """Separate from `drain`, so a Slack outage retries the post, not the drain."""
        from plugins.slack_alerts.notifiers import post_message

        text = report.get("slack_text")
        if not text:
            print("no permanent failure in this run: nothing to post")
            return False
        post_message(text)
        return True

    alert(drain())


dag_dlq_retry()
