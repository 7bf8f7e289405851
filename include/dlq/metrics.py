"""Prometheus metrics of the DLQ retry, pushed to the Pushgateway at the end of every run.

Grouping key ``job="dlq_retry", consumer_group=<group>``: each run replaces the previous run's
values, so the gauges describe the *last* run; Prometheus keeps their history (sum_over_time for
totals). Labels: ``dlq_topic``; ``error_type`` on the permanent failures.

- ``dlq_retry_depth``: records of the retry group not yet consumed, DLQ and retry topics together
  (the consumer lag: what is waiting for a retry), after the run
- ``dlq_retry_read``: dead letters the run handled
- ``dlq_retry_retried``: retry attempts made (repair rules + validation)
- ``dlq_retry_republished``: attempts that succeeded (event republished to the raw topic)
- ``dlq_retry_repaired``: republished events that needed a repair rule
- ``dlq_retry_requeued``: failed attempts waiting for the next one
- ``dlq_retry_permanently_failed{error_type}``: dead letters stored in errors.dlq_errors
- ``dlq_retry_last_run_timestamp_seconds``, ``dlq_retry_last_run_duration_seconds``
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)
JOB = "dlq_retry"


def push_drain_metrics(url: str, report: Any) -> bool:
    """Push one run's values; a Pushgateway that is down costs a warning, never the run."""
    if not url:
        return False
    from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

    registry = CollectorRegistry()
    labels = {"dlq_topic": report.dlq_topic}

    def gauge(name: str, doc: str, value: float) -> None:
        Gauge(name, doc, list(labels), registry=registry).labels(**labels).set(value)

    gauge(
        "dlq_retry_depth",
        "Dead letters waiting in the DLQ and retry topics (retry group lag).",
        report.total_depth,
    )
    gauge("dlq_retry_read", "Dead letters handled by the last run.", report.read)
    gauge("dlq_retry_retried", "Retry attempts made by the last run.", report.retried)
    gauge("dlq_retry_republished", "Events republished to the raw topic by the last run.", report.republished)
    gauge("dlq_retry_repaired", "Republished events that needed a repair rule (last run).", report.repaired)
    gauge("dlq_retry_requeued", "Failed attempts re-enqueued for a later retry (last run).", report.requeued)
    failed = Gauge(
        "dlq_retry_permanently_failed",
        "Dead letters stored in errors.dlq_errors by the last run.",
        [*labels, "error_type"],
        registry=registry,
    )
    from include.ingest.events import ERROR_TYPES

    for error_type in sorted(ERROR_TYPES):
        failed.labels(**labels, error_type=error_type).set(report.permanent_by_type.get(error_type, 0))
    gauge("dlq_retry_last_run_timestamp_seconds", "When the last run ended.", time.time())
    gauge("dlq_retry_last_run_duration_seconds", "How long the last run took.", report.elapsed_s)
    try:
        push_to_gateway(
            url, job=JOB, registry=registry, grouping_key={"consumer_group": report.group_id}, timeout=5
        )
    except OSError as exc:
        log.warning("could not push DLQ retry metrics to %s: %s", url, exc)
        return False
    return True
