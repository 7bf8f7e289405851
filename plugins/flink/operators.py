"""Operators that change a Flink job: submit it (idempotently) and stop it with a savepoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context


class FlinkSubmitJobOperator(BaseOperator):
    """Submits a PyFlink job to the session cluster unless a copy of it is already active.

    - Idempotent: if a job with the same name is running (or restarting), returns its id and
      submits nothing.
    - ``restore="latest"`` resumes from the newest checkpoint or savepoint of the job name
      (see :func:`include.flink_cli.latest_state`); ``"none"`` starts from scratch; any other value
      is used as the savepoint path.
    - The job spec (file, args, secret env vars) comes from ``spec_callable``, a dotted path to an
      Airflow-free function returning :class:`include.flink_cli.JobSpec`, called inside
      ``execute`` so connections are read at run time, never at parse time.

    :param job_name: the job's name (``pipeline.name``). Templated.
    :param spec_callable: dotted path of ``() -> JobSpec``. Templated.
    :param restore: ``latest`` | ``none`` | a state path. Default: ``latest``. Templated.
    :param flink_conn_id: Flink REST connection. Default: ``flink_rest``.
    :raises include.flink_cli.FlinkSubmitError: when the Flink client rejects the job.
    :return: the job id (XCom).
    """

    template_fields: Sequence[str] = ("job_name", "spec_callable", "restore", "flink_conn_id")

    def __init__(
        self,
        *,
        job_name: str,
        spec_callable: str,
        restore: str = "latest",
        flink_conn_id: str = "flink_rest",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.spec_callable = spec_callable
        self.restore = restore
        self.flink_conn_id = flink_conn_id

    def execute(self, context: Context) -> str:
        from plugins.flink.submit import ensure_job

        result = ensure_job(self.job_name, self.spec_callable, self.restore, self.flink_conn_id)
        self.log.info("%s", result.message)
        return result.job_id


class FlinkStopWithSavepointOperator(BaseOperator):
    """Stops the active job called ``job_name`` with a savepoint; returns the savepoint path.

    The next :class:`FlinkSubmitJobOperator` with ``restore="latest"`` resumes from it: no event
    is lost or counted twice across a redeploy.

    :param job_name: the job's name. Templated.
    :param target_directory: where to write the savepoint. Default: the job's savepoint directory
        under FLINK_SAVEPOINTS_URI. Templated.
    :param flink_conn_id: Flink REST connection. Default: ``flink_rest``.
    :raises RuntimeError: when no such job is active.
    """

    template_fields: Sequence[str] = ("job_name", "target_directory", "flink_conn_id")

    def __init__(
        self,
        *,
        job_name: str,
        target_directory: str | None = None,
        flink_conn_id: str = "flink_rest",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.target_directory = target_directory
        self.flink_conn_id = flink_conn_id

    def execute(self, context: Context) -> str:
        from include.flink_cli import state_dirs
        from plugins.flink.hooks import FlinkRestHook

        hook = FlinkRestHook(self.flink_conn_id)
        active = hook.active_jobs(self.job_name)
        if not active:
            raise RuntimeError(f"no active Flink job named {self.job_name!r} to stop")
        target = self.target_directory or state_dirs(self.job_name)[1]
        path = hook.stop_with_savepoint(active[0].job_id, target)
        self.log.info("stopped %s (%s) with savepoint %s", self.job_name, active[0].job_id, path)
        return path
