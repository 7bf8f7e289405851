"""
### Partition maintenance

Every 15 minutes, keeps the daily partitions of `realtime.ad_window_metrics` where the events are:
partitions follow **event time**, not the wall clock (a replay of 2014 Avazu hours writes 2014
windows).

| task | what it does |
| --- | --- |
| `ensure_partitions` | creates the days from yesterday to a week ahead (live producers) and around the streaming job's watermark (replays); a day found in the DEFAULT partition gets its partition too, which moves its rows out (logged as a warning: something published without creating its days first) |
| `apply_retention` | drops daily partitions more than `REALTIME_RETENTION_DAYS` before the newest day with data (0, the default, keeps everything) |
| `check_default_empty` | fails, and so alerts Slack, when any DEFAULT partition of the pipeline still holds rows |

Replays create their own days before they publish (`dag_avazu_replay`, the replay CLI), so the
DEFAULT partitions stay empty; this DAG is the safety net and the check. The same count is a
Prometheus metric (`adevents_partitions_default_rows`) with an alert rule.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.sdk import dag, task

from include.dag_defaults import dag_args

DB_CONN_ID = "pipeline_db"
# Partitions this many days beyond the newest event time seen, so a stream crossing midnight
# never waits for the next maintenance run.
DAYS_AHEAD_OF_WATERMARK = 2
log = logging.getLogger(__name__)


def _watermark_ms() -> int | None:
    from include import config
    from plugins.flink.hooks import FlinkRestHook

    # Flink down or no job running: None, and the wall-clock days are still kept.
    return FlinkRestHook().running_job_watermark_ms(config.get("FLINK_JOB_NAME"))


@dag(
    dag_id="dag_partition_maintenance",
    schedule=timedelta(minutes=15),
    doc_md=__doc__,
    **dag_args(),
    tags=["platform"],
    description="Daily partitions follow event time; DEFAULT partitions stay empty",
)
def dag_partition_maintenance() -> None:
    @task
    def ensure_partitions() -> dict[str, int]:
        from datetime import UTC, datetime

        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from include.db import partitions

        today = datetime.now(UTC).date()
        spans = [(today - timedelta(days=1), today + timedelta(days=7))]
        watermark = _watermark_ms()
        if watermark is not None:
            day = partitions.day_of_ms(watermark)
            spans.append((day - timedelta(days=1), day + timedelta(days=DAYS_AHEAD_OF_WATERMARK)))
        with PostgresHook(postgres_conn_id=DB_CONN_ID).get_conn() as conn:
            stray = partitions.days_in_default(conn)
            if stray:
                log.warning(
                    "rows of %s were in the DEFAULT partition (published before their days existed); "
                    "creating those days moves them out",
                    ", ".join(map(str, stray)),
                )
            spans += [(d, d) for d in stray]
            created = sum(partitions.ensure_days(conn, first, last) for first, last in spans)
        print(f"created {created} daily partition(s) for {spans}")
        return {"created": created, "rescued_days": len(stray)}

    @task
    def apply_retention() -> list[str]:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from include import config
        from include.db import partitions

        keep = int(config.get("REALTIME_RETENTION_DAYS"))
        with PostgresHook(postgres_conn_id=DB_CONN_ID).get_conn() as conn:
            dropped = partitions.apply_retention(conn, keep)
        print(f"retention {keep or 'off'} day(s): dropped {dropped or 'nothing'}")
        return dropped

    @task
    def check_default_empty() -> None:
        from airflow.providers.postgres.hooks.postgres import PostgresHook
        from airflow.sdk.exceptions import AirflowFailException

        from include.db import partitions

        with PostgresHook(postgres_conn_id=DB_CONN_ID).get_conn() as conn:
            found = partitions.default_partitions(conn)
        full = [f"{p.partition}: {p.rows} rows" for p in found if p.rows]
        if full:
            raise AirflowFailException(
                "DEFAULT partitions hold rows (" + "; ".join(full) + "): create the partitions of their "
                "days (SELECT realtime.ensure_daily_partitions(first_day, last_day)); docs/operations.md"
            )
        print(f"{len(found)} DEFAULT partition(s), all empty")

    ensure_partitions() >> apply_retention() >> check_default_empty()


dag_partition_maintenance()
