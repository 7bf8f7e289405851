"""Airflow hook over Flink's REST API (a session cluster's JobManager)."""

from __future__ import annotations

import time
from functools import cached_property
from typing import Any

import requests
from airflow.sdk import BaseHook

from include.flink_jobs.common import rest
from include.flink_jobs.common.health import JobHealth, assess
from include.flink_jobs.common.rest import CheckpointInfo, FlinkJob


class FlinkRestError(RuntimeError):
    """The JobManager answered with an error, or an operation did not complete."""


class FlinkRestHook(BaseHook):
    """Owns the ``flink_rest`` connection: the JobManager's REST URL.

    - The connection's host is a full URL (``http://127.0.0.1:8081``) or a host with ``schema`` and
      ``port``.
    - Answers are read by :mod:`include.flink_jobs.common.rest`, as the trigger reads them.

    :param flink_conn_id: connection id. Default: ``flink_rest``.
    """

    conn_name_attr = "flink_conn_id"
    default_conn_name = "flink_rest"
    conn_type = "http"
    hook_name = "Flink REST"

    def __init__(self, flink_conn_id: str = default_conn_name, timeout: float = 10.0) -> None:
        super().__init__()
        self.flink_conn_id = flink_conn_id
        self.timeout = timeout

    @cached_property
    def base_url(self) -> str:
        conn = self.get_connection(self.flink_conn_id)
        if not conn.host:
            raise ValueError(f"connection {self.flink_conn_id!r} has no host: set AIRFLOW_CONN_FLINK_REST")
        if "://" in conn.host:
            return conn.host.rstrip("/")
        return f"{conn.schema or 'http'}://{conn.host}:{conn.port or 8081}"

    @cached_property
    def session(self) -> requests.Session:
        return requests.Session()

    def get_conn(self) -> requests.Session:
        return self.session

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}{path}"
        try:
            resp = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise FlinkRestError(
                f"Flink REST API unreachable at {self.base_url} ({exc}): is the cluster up?"
            ) from exc
        if resp.status_code >= 400:
            raise FlinkRestError(f"{method} {path} -> {resp.status_code}: {resp.text[:300]}")
        return resp.json() if resp.content else None

    def _get(self, path: str) -> Any:
        return self._call("GET", path)

    def overview(self) -> dict[str, Any]:
        return self._get("/overview")

    def jobs(self) -> list[FlinkJob]:
        return rest.parse_jobs(self._get(rest.JOBS_OVERVIEW))

    def active_jobs(self, name: str) -> list[FlinkJob]:
        """Jobs called ``name`` that are running or about to (not finished, failed or cancelled)."""
        return rest.active_jobs(self.jobs(), name)

    def current_job(self, name: str) -> FlinkJob | None:
        """The active job called ``name``, else the most recently started one (or None)."""
        return rest.current_job(self.jobs(), name)

    def checkpoints(self, job_id: str) -> CheckpointInfo:
        return rest.parse_checkpoints(self._get(rest.checkpoints_path(job_id)))

    def health(self, name: str, max_checkpoint_age_s: float) -> JobHealth:
        """The health of the job called ``name`` now (rules: :func:`include.flink_jobs.common.health.assess`)."""
        job = self.current_job(name)
        checkpoints = self.checkpoints(job.job_id) if job and job.state == "RUNNING" else None
        return assess(job, checkpoints, int(time.time() * 1000), max_checkpoint_age_s)

    def watermark_ms(self, job_id: str) -> int | None:
        """The job's newest event-time watermark over all operators (None before its first event)."""
        return rest.newest_watermark_ms(self._get, job_id)

    def running_job_watermark_ms(self, name: str) -> int | None:
        """The watermark of the running job called ``name``; None when none runs or Flink cannot be asked.

        For callers to whom the watermark is advice (a late-replay warning, partitions ahead of the
        stream): a cluster that is down must not fail them, so the reason is logged, not raised.
        """
        try:
            job = rest.running_job(self.jobs(), name)
            return self.watermark_ms(job.job_id) if job is not None else None
        except Exception as exc:  # no connection, cluster down, an unexpected answer: all the same here
            self.log.info("could not read the watermark of Flink job %s (%s)", name, exc)
            return None

    def cancel(self, job_id: str) -> None:
        self._call("PATCH", f"/jobs/{job_id}", params={"mode": "cancel"})

    def stop_with_savepoint(self, job_id: str, target_directory: str | None, timeout: float = 300.0) -> str:
        """Takes a savepoint and stops the job once it is written; returns the savepoint path."""
        body: dict[str, Any] = {"drain": False}
        if target_directory:
            body["targetDirectory"] = target_directory
        trigger = self._call("POST", f"/jobs/{job_id}/stop", json=body)["request-id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self._get(f"/jobs/{job_id}/savepoints/{trigger}")
            if status["status"]["id"] == "COMPLETED":
                operation = status.get("operation") or {}
                if "location" in operation:
                    return operation["location"]
                cause = operation.get("failure-cause", {}).get("stack-trace", "unknown cause")
                raise FlinkRestError(
                    f"savepoint of {job_id} failed: {cause.splitlines()[0] if cause else cause}"
                )
            time.sleep(1)
        raise FlinkRestError(f"savepoint of {job_id} not finished after {timeout:.0f}s")

    def test_connection(self) -> tuple[bool, str]:
        try:
            overview = self.overview()
        except Exception as exc:
            return False, str(exc)
        return True, f"{self.base_url}: {overview.get('taskmanagers', 0)} TaskManager(s)"
