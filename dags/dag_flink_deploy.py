"""
### Flink job deploy

Makes sure exactly one copy of the streaming job (`ad_window_metrics`: 1- and 5-minute windows
into `realtime.ad_window_metrics` and Redis) runs on the Flink session cluster, then waits until
it is healthy (RUNNING with a completed checkpoint).

- **Idempotent**: if the job already runs, nothing is submitted.
- **Stateful resume**: by default (`restore = latest`) the job resumes from the newest checkpoint
  or savepoint of its name under `FLINK_CHECKPOINTS_URI` / `FLINK_SAVEPOINTS_URI`, so a redeploy
  neither loses nor double-counts events. `restore = none` starts from scratch (earliest Kafka
  offsets; the PostgreSQL upsert makes the replayed windows land on the same rows).
- Before submitting, creates the daily partitions of `realtime.ad_window_metrics` from yesterday
  to a week ahead (replays create the days of their hours; `dag_partition_maintenance` keeps them).
- Called at the end of `dag_platform_bootstrap`; safe to trigger by hand at any time.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from include import config
from include.dag_defaults import dag_args
from include.flink_jobs.ad_window_metrics.spec import SPEC_CALLABLE
from plugins.flink.deploy import deploy_job


@dag(
    dag_id="dag_flink_deploy",
    schedule=None,
    doc_md=__doc__,
    **dag_args(),
    tags=["realtime", "manual"],
    description="Exactly one copy of the streaming job runs, resumed from its newest state; waits until healthy",
    params={
        "restore": Param(
            "latest",
            type="string",
            minLength=1,
            pattern=r"^(latest|none|/.+|[a-z][a-z0-9+.-]*://.+)$",
            examples=["latest", "none"],
            description="State to start from when the job is not running: latest (newest checkpoint or "
            "savepoint), none (from scratch, earliest Kafka offsets), or a state path (absolute, or a URI "
            "like file:///...). A running job is left as it is",
        )
    },
)
def dag_flink_deploy() -> None:
    @task
    def ensure_window_partitions() -> int:
        from datetime import UTC, datetime, timedelta

        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from include.db.partitions import ensure_days

        today = datetime.now(UTC).date()
        with PostgresHook(postgres_conn_id="pipeline_db").get_conn() as conn:
            created = ensure_days(conn, today - timedelta(days=1), today + timedelta(days=7))
        print(f"created {created} daily partition(s) of realtime.ad_window_metrics")
        return created

    deploy = deploy_job(
        job_name=config.get("FLINK_JOB_NAME"), spec_callable=SPEC_CALLABLE, restore="{{ params.restore }}"
    )
    ensure_window_partitions() >> deploy


dag_flink_deploy()
