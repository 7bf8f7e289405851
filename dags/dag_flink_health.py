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

from airflow.sdk import dag, task

from include import config
from include.dag_defaults import DEFAULT_ARGS, START_DATE
from include.realtime_job import SPEC_CALLABLE
from plugins.flink.sensors import FlinkJobHealthSensor

JOB_NAME = config.get("FLINK_JOB_NAME")


@dag(
    dag_id="dag_flink_health",
    schedule=timedelta(minutes=5),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    default_args=DEFAULT_ARGS,
    tags=["realtime", "monitoring"],
)
def dag_flink_health() -> None:
    @task
    def repair_if_down() -> dict[str, str | None]:
        """Resubmits a failed or missing job from its latest state; raises on stale checkpoints."""
        import time

        from airflow.sdk.exceptions import AirflowSkipException

        from include.flink_cli import latest_state
        from plugins.flink.health import assess
        from plugins.flink.hooks import FlinkRestHook
        from plugins.flink.submit import ensure_job
        from plugins.slack_alerts.notifiers import post_message

        hook = FlinkRestHook()
        job = hook.current_job(JOB_NAME)
        checkpoints = hook.checkpoints(job.job_id) if job and job.state == "RUNNING" else None
        max_age = float(config.get("FLINK_MAX_CHECKPOINT_AGE_S"))
        health = assess(job, checkpoints, int(time.time() * 1000), max_age)
        print(f"{JOB_NAME}: {health.status} ({health.detail})")
        if health.status == "stale":
            raise RuntimeError(
                f"{JOB_NAME} is running but not checkpointing: {health.detail}. "
                "Check the JobManager log (make logs C=flink-jobmanager)."
            )
        if not health.needs_resubmit:
            return {"status": health.status, "action": "none"}
        if job is None and latest_state(JOB_NAME) is None:
            # Skipping (not failing) keeps a stack that is up but not yet bootstrapped quiet.
            raise AirflowSkipException(f"{JOB_NAME} was never deployed here: trigger dag_flink_deploy")
        result = ensure_job(JOB_NAME, SPEC_CALLABLE, restore="latest")
        if result.submitted:
            post_message(
                f":arrows_counterclockwise: Flink job `{JOB_NAME}` was {health.status} "
                f"({health.detail}); resubmitted as `{result.job_id}`, "
                f"{'resumed from ' + result.restored_from if result.restored_from else 'from scratch'}."
            )
        print(result.message)
        return {"status": health.status, "action": "resubmitted", "job_id": result.job_id}

    healthy = FlinkJobHealthSensor(task_id="wait_until_healthy", job_name=JOB_NAME, timeout=240)
    repair_if_down() >> healthy


dag_flink_health()
