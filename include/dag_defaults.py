"""What every DAG shares: default_args (owner, retries, Slack on failure), the approved tags, and how
an optional param and a choice param are declared."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import Param

from include import config
from plugins.connections.overlay import use_connections
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
    # Endpoints and credentials come from the task's Airflow connections (plugins/connections).
    "pre_execute": use_connections,
}


def dag_args(**overrides: Any) -> dict[str, Any]:
    """What every DAG declares the same way, for ``@dag(..., **dag_args())``: the shared
    default_args, a fixed start date with no catch-up of missed intervals, one run at a time.
    A DAG that differs says so: ``dag_args(max_active_runs=2)``."""
    args: dict[str, Any] = {
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "default_args": DEFAULT_ARGS,
    }
    return {**args, **overrides}


# Kafka's rule for topic and group names; the empty string is accepted too and means "the setting".
KAFKA_NAME_PATTERN = r"^([A-Za-z0-9._-]{1,249})?$"


def optional_param(kind: str, description: str, empty: str, **schema: Any) -> Param:
    """A param a person may leave empty in the Trigger form.

    Its default is None and its type admits null: the form marks any other param with an empty
    default as required and keeps the Trigger button disabled. ``empty`` says what an empty value
    means; ``setting:NAME`` writes "setting NAME (its current value)".
    """
    if empty.startswith("setting:"):
        name = empty.removeprefix("setting:")
        empty = f"setting {name} ({config.get(name)})"
    return Param(None, type=["null", kind], description=f"{description}. Empty = {empty}", **schema)


def choice_param(default: str, choices: dict[str, str], description: str) -> Param:
    """A string param picked from a few values, each shown in the Trigger form with what it means.

    ``choices`` maps each value to its meaning, in the form's order: ``{"asap": "as fast as
    possible"}`` offers ``asap`` and shows it as "asap (as fast as possible)". The values and their
    labels come from this one mapping, so a value cannot be offered without a label or the reverse.
    """
    return Param(
        default,
        type="string",
        enum=list(choices),
        values_display={value: f"{value} ({meaning})" for value, meaning in choices.items()},
        description=description,
    )
