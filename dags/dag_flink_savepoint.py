"""
### Flink savepoint and redeploy

Stops the streaming job with a savepoint (under `FLINK_SAVEPOINTS_URI/<job name>/`) and, unless
`redeploy` is false, submits it again from that savepoint and waits until it is healthy.

Use it to upgrade the job's code or the cluster, or to move the job: the savepoint carries the
Kafka offsets and the open windows, so nothing is lost or counted twice. With `redeploy = false`
the job stays stopped; `dag_flink_deploy` (or the health DAG within 5 minutes) resumes it later
from the same savepoint.
"""

from __future__ import annotations

from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.sdk import Param, dag

from include import config
from include.dag_defaults import dag_args
from include.flink_jobs.ad_window_metrics.spec import SPEC_CALLABLE
from plugins.flink.deploy import deploy_job
from plugins.flink.operators import FlinkStopWithSavepointOperator

JOB_NAME = config.get("FLINK_JOB_NAME")


@dag(
    dag_id="dag_flink_savepoint",
    schedule=None,
    doc_md=__doc__,
    **dag_args(),
    tags=["realtime", "manual"],
    description="Stop the streaming job with a savepoint and (by default) resubmit it from that savepoint",
    params={
        "redeploy": Param(
            True,
            type="boolean",
            description="On: submit the job again from the savepoint. Off: leave it stopped "
            "(dag_flink_deploy or the health DAG resumes it later from the same savepoint)",
        )
    },
)
def dag_flink_savepoint() -> None:
    stop = FlinkStopWithSavepointOperator(task_id="stop_with_savepoint", job_name=JOB_NAME)
    redeploy = ShortCircuitOperator(
        task_id="redeploy_requested", python_callable=lambda params: params["redeploy"]
    )
    deploy = deploy_job(
        job_name=JOB_NAME,
        spec_callable=SPEC_CALLABLE,
        restore="{{ ti.xcom_pull(task_ids='stop_with_savepoint') }}",
        submit_task_id="submit_from_savepoint",
    )
    stop >> redeploy >> deploy


dag_flink_savepoint()
