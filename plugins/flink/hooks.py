"""Airflow hook over Flink's REST API (a session cluster's JobManager)."""

from __future__ import annotations

import time
from functools import cached_property

from airflow.sdk import BaseHook

from include.flink_jobs.common.client import FlinkRestClient, FlinkRestError
from include.flink_jobs.common.health import JobHealth, assess

__all__ = ["FlinkRestError", "FlinkRestHook"]


class FlinkRestHook(FlinkRestClient, BaseHook):
    """Owns the ``flink_rest`` connection: the JobManager's REST URL.

    - The connection's host is a full URL (``http://127.0.0.1:8081``) or a host with ``schema`` and
      ``port``.
    - Every call is :class:`include.flink_jobs.common.client.FlinkRestClient`'s, the one the
      backfill CLI and the benchmarks use outside Airflow.

    :param flink_conn_id: connection id. Default: ``flink_rest``.
    """

    conn_name_attr = "flink_conn_id"
    default_conn_name = "flink_rest"
    conn_type = "http"
    hook_name = "Flink REST"

    def __init__(self, flink_conn_id: str = default_conn_name, timeout: float = 10.0) -> None:
        # The URL comes from the connection (``base_url`` below), not from the client's __init__.
        BaseHook.__init__(self)
        self.flink_conn_id = flink_conn_id
        self.timeout = timeout

    @cached_property
    def base_url(self) -> str:  # type: ignore[override]
        conn = self.get_connection(self.flink_conn_id)
        if not conn.host:
            raise ValueError(f"connection {self.flink_conn_id!r} has no host: set AIRFLOW_CONN_FLINK_REST")
        if "://" in conn.host:
            return conn.host.rstrip("/")
        return f"{conn.schema or 'http'}://{conn.host}:{conn.port or 8081}"

    def get_conn(self) -> FlinkRestClient:
        return self

    def health(self, name: str, max_checkpoint_age_s: float) -> JobHealth:
        """The health of the job called ``name`` now (rules: :func:`include.flink_jobs.common.health.assess`)."""
        job = self.current_job(name)
        checkpoints = self.checkpoints(job.job_id) if job and job.state == "RUNNING" else None
        return assess(job, checkpoints, int(time.time() * 1000), max_checkpoint_age_s)

    def running_job_watermark_ms(self, name: str) -> int | None:
        """The watermark of the running job called ``name``; None when none runs or Flink cannot be asked.

        For callers to whom the watermark is advice (a late-replay warning, partitions ahead of the
        stream): a cluster that is down must not fail them, so the reason is logged, not raised.
        """
        try:
            job = self.running_job(name)
            return self.watermark_ms(job.job_id) if job is not None else None
        except Exception as exc:  # no connection, cluster down, an unexpected answer: all the same here
            self.log.info("could not read the watermark of Flink job %s (%s)", name, exc)
            return None

    def test_connection(self) -> tuple[bool, str]:
        try:
            overview = self.overview()
        except Exception as exc:
            return False, str(exc)
        return True, f"{self.base_url}: {overview.get('taskmanagers', 0)} TaskManager(s)"
