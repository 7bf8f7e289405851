"""What every DAG shares: default_args (owner, retries, Slack on failure) and the approved tags."""

from __future__ import annotations

from datetime import datetime, timedelta

from plugins.slack_alerts.notifiers import notify_failure

OWNER = "ad-events-platform"

# Tags a DAG may carry (tests/dags checks it): one area, plus "manual" for trigger-only DAGs.
APPROVED_TAGS = frozenset({"platform", "ingest", "realtime", "batch", "dlq", "monitoring", "manual"})

# A fixed past date: DAGs are not backfilled unless they say catchup=True.
START_DATE = datetime(2026, 1, 1)

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(seconds=20),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=5),
    "on_failure_callback": notify_failure(),
}
