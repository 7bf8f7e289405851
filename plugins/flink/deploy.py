"""The deploy step of every DAG that (re)deploys a Flink job: submit it, then wait until healthy."""

from __future__ import annotations

from airflow.sdk import TaskGroup

from plugins.flink.operators import FlinkSubmitJobOperator
from plugins.flink.sensors import FlinkJobHealthSensor


def deploy_job(
    *,
    job_name: str,
    spec_callable: str,
    restore: str = "latest",
    submit_task_id: str = "submit_job",
    health_timeout: float = 600.0,
) -> TaskGroup:
    """``submit_task_id`` (idempotent submit, see :class:`FlinkSubmitJobOperator`) >> ``wait_until_healthy``.

    Call it inside a DAG and wire the group like a task. The task ids are not prefixed with the
    group's: runbooks, tests and XCom pulls name them as they are.

    :param restore: ``latest`` | ``none`` | a state path (may be a template).
    :param health_timeout: seconds the job has to become healthy before the sensor fails.
    """
    with TaskGroup(group_id="deploy", prefix_group_id=False) as group:
        submit = FlinkSubmitJobOperator(
            task_id=submit_task_id, job_name=job_name, spec_callable=spec_callable, restore=restore
        )
        submit >> FlinkJobHealthSensor(
            task_id="wait_until_healthy", job_name=job_name, timeout=health_timeout
        )
    return group
