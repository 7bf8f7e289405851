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
  to a week ahead (rows of other days, e.g. a 2014 Avazu replay, land in the DEFAULT partition).
- Called at the end of `dag_platform_bootstrap`; safe to trigger by hand at any time.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from include import config
from include.dag_defaults import DEFAULT_ARGS, START_DATE
from include.realtime_job import SPEC_CALLABLE
from plugins.flink.operators import FlinkSubmitJobOperator
from plugins.flink.sensors import FlinkJobHealthSensor

JOB_NAME = config.get("FLINK_JOB_NAME")


@dag(
    dag_id="dag_flink_deploy",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args=DEFAULT_ARGS,
    tags=["realtime", "manual"],
    params={
        "restore": Param(
            "latest",
            type="string",
            description="latest (newest checkpoint/savepoint), none (from scratch), or a state path",
        )
    },
)
def dag_flink_deploy() -> None:
    @task
    def ensure_window_partitions() -> int:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        sql = "SELECT realtime.ensure_daily_partitions(current_date - 1, current_date + 7)"
        created = PostgresHook(postgres_conn_id="pipeline_db").get_first(sql)[0]
        print(f"created {created} daily partition(s) of realtime.ad_window_metrics")
        return created

    submit = FlinkSubmitJobOperator(
        task_id="submit_job", job_name=JOB_NAME, spec_callable=SPEC_CALLABLE, restore="{{ params.restore }}"
    )
    healthy = FlinkJobHealthSensor(task_id="wait_until_healthy", job_name=JOB_NAME, timeout=600)
    ensure_window_partitions() >> submit >> healthy


dag_flink_deploy()
