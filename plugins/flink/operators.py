"""Operators that change a Flink job: submit it (idempotently), resubmit it when it is down, stop
it with a savepoint. Each acts on the job called ``job_name`` (ids change at every submission)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context


def _in_submit_pool(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the pool of one slot that serialises submissions (AIRFLOW_FLINK_SUBMIT_POOL):
    the deploy, health and savepoint DAGs may all find the job missing at once, and each would
    submit a copy. A pool holds across every worker and host, where a lock file would not."""
    from include import config

    return {"pool": config.get("AIRFLOW_FLINK_SUBMIT_POOL"), **kwargs}


class _FlinkJobOperator(BaseOperator):
    """The job's name and the Flink REST connection, which every operator here needs.

    :param job_name: the job's name (``pipeline.name``). Templated.
    :param flink_conn_id: Flink REST connection. Default: ``flink_rest``.
    """

    template_fields: Sequence[str] = ("job_name", "flink_conn_id")

    def __init__(self, *, job_name: str, flink_conn_id: str = "flink_rest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.flink_conn_id = flink_conn_id


class FlinkSubmitJobOperator(_FlinkJobOperator):
    """Submits a PyFlink job to the session cluster unless a copy of it is already active.

    - Idempotent: if a job with the same name is running (or restarting), returns its id and
      submits nothing.
    - ``restore="latest"`` resumes from the newest checkpoint or savepoint of the job name
      (see :func:`include.flink_jobs.common.state.latest_state`); ``"none"`` starts from scratch;
      any other value is used as the savepoint path.
    - The job spec (file, args, secret env vars) comes from ``spec_callable``, a dotted path to an
      Airflow-free function returning :class:`include.flink_jobs.common.submit.JobSpec`, called
      inside ``execute`` so connections are read at run time, never at parse time.

    :param spec_callable: dotted path of ``() -> JobSpec``. Templated.
    :param restore: ``latest`` | ``none`` | a state path. Default: ``latest``. Templated.
    :raises include.flink_jobs.common.submit.FlinkSubmitError: when the Flink client rejects the job.
    :return: the job id (XCom).
    """

    template_fields: Sequence[str] = (*_FlinkJobOperator.template_fields, "spec_callable", "restore")

    def __init__(self, *, spec_callable: str, restore: str = "latest", **kwargs: Any) -> None:
        super().__init__(**_in_submit_pool(kwargs))
        self.spec_callable = spec_callable
        self.restore = restore

    def execute(self, context: Context) -> str:
        from plugins.flink.ensure import ensure_job

        result = ensure_job(self.job_name, self.spec_callable, self.restore, self.flink_conn_id)
        self.log.info("%s", result.message)
        return result.job_id


class FlinkResubmitIfDownOperator(_FlinkJobOperator):
    """Resubmits the job from its newest state when it failed, was cancelled or is missing.

    - Failed, cancelled or missing: resubmitted (newest checkpoint or savepoint), and Slack hears
      about it once: what was wrong, the new job id, the state it resumed from.
    - Restarting, starting or healthy: nothing to do (Flink's restart strategy is at work).
    - Stale (running, no checkpoint within the limit): fails, which alerts Slack; resubmitting
      would not help while checkpoints fail.
    - Never deployed (no job of that name and no state on disk): skipped, so a stack that is up but
      not bootstrapped yet stays quiet.

    :param spec_callable: dotted path of ``() -> JobSpec``. Templated.
    :param max_checkpoint_age_s: the limit for "stale". Default: setting FLINK_MAX_CHECKPOINT_AGE_S.
    :return: ``{"status", "action": "none"|"resubmitted", "job_id"?}`` (XCom).
    """

    template_fields: Sequence[str] = (*_FlinkJobOperator.template_fields, "spec_callable")

    def __init__(
        self, *, spec_callable: str, max_checkpoint_age_s: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**_in_submit_pool(kwargs))
        self.spec_callable = spec_callable
        self.max_checkpoint_age_s = max_checkpoint_age_s

    def execute(self, context: Context) -> dict[str, str | None]:
        from airflow.sdk.exceptions import AirflowSkipException

        from include.config import param_or_setting
        from include.flink_jobs.common.state import latest_state
        from include.slack_text import escape
        from plugins.flink.ensure import ensure_job
        from plugins.flink.hooks import FlinkRestHook
        from plugins.slack_alerts.notifiers import post_message

        max_age = float(param_or_setting(self.max_checkpoint_age_s, "FLINK_MAX_CHECKPOINT_AGE_S"))
        hook = FlinkRestHook(self.flink_conn_id)
        health = hook.health(self.job_name, max_age)
        self.log.info("%s: %s (%s)", self.job_name, health.status, health.detail)
        if health.status == "stale":
            raise RuntimeError(
                f"{self.job_name} is running but not checkpointing: {health.detail}. "
                "Check the JobManager log (make logs C=flink-jobmanager)."
            )
        if not health.needs_resubmit:
            return {"status": health.status, "action": "none"}
        if health.status == "missing" and latest_state(self.job_name, client=hook) is None:
            raise AirflowSkipException(f"{self.job_name} was never deployed here: trigger dag_flink_deploy")
        result = ensure_job(self.job_name, self.spec_callable, "latest", self.flink_conn_id)
        if result.submitted:
            origin = f"resumed from {result.restored_from}" if result.restored_from else "from scratch"
            post_message(
                f":arrows_counterclockwise: Flink job `{escape(self.job_name)}` was {health.status} "
                f"({escape(health.detail)}); resubmitted as `{escape(result.job_id)}`, {escape(origin)}."
            )
        self.log.info("%s", result.message)
        return {"status": health.status, "action": "resubmitted", "job_id": result.job_id}


class FlinkStopWithSavepointOperator(_FlinkJobOperator):
    """Stops the active job called ``job_name`` with a savepoint; returns the savepoint path.

    The next :class:`FlinkSubmitJobOperator` with ``restore="latest"`` resumes from it: no event
    is lost or counted twice across a redeploy.

    :param target_directory: where to write the savepoint. Default: the job's savepoint directory
        under FLINK_SAVEPOINTS_URI. Templated.
    :raises RuntimeError: when no such job is active.
    """

    template_fields: Sequence[str] = (*_FlinkJobOperator.template_fields, "target_directory")

    def __init__(self, *, target_directory: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_directory = target_directory

    def execute(self, context: Context) -> str:
        from include.flink_jobs.common.state import state_dirs
        from plugins.flink.hooks import FlinkRestHook

        hook = FlinkRestHook(self.flink_conn_id)
        active = hook.active_jobs(self.job_name)
        if not active:
            raise RuntimeError(f"no active Flink job named {self.job_name!r} to stop")
        target = self.target_directory or state_dirs(self.job_name)[1]
        path = hook.stop_with_savepoint(active[0].job_id, target)
        self.log.info("stopped %s (%s) with savepoint %s", self.job_name, active[0].job_id, path)
        return path
