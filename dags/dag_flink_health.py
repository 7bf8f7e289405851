"""
### Flink job health

Every 5 minutes: is the streaming job (`ad_window_metrics`) RUNNING with a recent checkpoint?

- **Failed, cancelled or missing** (for example after `make down && make up`, or a cancel from
  the Flink UI): the job is resubmitted from its newest checkpoint or savepoint, so no event is
  lost or counted twice, and Slack hears about it once (what was wrong, the new job id, the state
  it resumed from).
- **Restarting**: Flink is recovering by itself (restart strategy); nothing is done this round.
- **Stale** (running, but no checkpoint for `FLINK_MAX_CHECKPOINT_AGE_S` seconds): the task
  fails, which alerts Slack; resubmitting would not help while checkpoints fail, so look at the
  JobManager log (`make logs C=flink-jobmanager`) and docs/troubleshooting.md.
- **Never deployed** (no job of that name on the cluster and no checkpoint on disk): nothing is
  submitted. The job is deployed by `dag_flink_deploy`, which `dag_platform_bootstrap` triggers.

The second task waits (deferred, no worker slot) until the job is healthy again.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag

from include import config
from include.dag_defaults import dag_args
from include.flink_jobs.ad_window_metrics.spec import SPEC_CALLABLE
from plugins.flink.operators import FlinkResubmitIfDownOperator
from plugins.flink.sensors import FlinkJobHealthSensor

JOB_NAME = config.get("FLINK_JOB_NAME")


@dag(
    dag_id="dag_flink_health",
    schedule=timedelta(minutes=5),
    doc_md=__doc__,
    **dag_args(),
    tags=["realtime", "monitoring"],
    description="Every 5 min: a failed or missing streaming job is resubmitted from its latest checkpoint",
)
def dag_flink_health() -> None:
    repair = FlinkResubmitIfDownOperator(
        task_id="repair_if_down", job_name=JOB_NAME, spec_callable=SPEC_CALLABLE
    )
    repair >> FlinkJobHealthSensor(task_id="wait_until_healthy", job_name=JOB_NAME, timeout=240)


dag_flink_health()
