"""A small synchronous client of Flink's REST API (a session cluster's JobManager).

One home for the calls every caller makes: list jobs, read a job's state, checkpoints and
watermark, cancel, stop with a savepoint, wait for a bounded job to finish. The Airflow hook
(:class:`plugins.flink.hooks.FlinkRestHook`) is this client with its URL from a connection; the
backfill CLI, the demo and the benchmarks build it from ``FLINK_REST_URL``. Answers are read by
:mod:`include.flink_jobs.common.rest`, as the deferrable trigger reads them over aiohttp.

No Airflow imports.
"""

from __future__ import annotations

import contextlib
import time
from functools import cached_property
from typing import Any

import requests

from include.flink_jobs.common import rest
from include.flink_jobs.common.rest import CheckpointInfo, FlinkJob

FAILED_STATES = frozenset({"FAILED", "CANCELED"})


class FlinkRestError(RuntimeError):
    """The JobManager answered with an error, or an operation did not complete; one line."""


class FlinkRestClient:
    """Calls on the REST API at ``base_url`` (``http://127.0.0.1:8081``).

    Subclasses may provide ``base_url`` lazily (the hook reads it from its connection).
    """

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    @cached_property
    def session(self) -> requests.Session:
        return requests.Session()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """``method path`` -> the decoded JSON answer (None when empty); errors as :class:`FlinkRestError`."""
        try:
            resp = self.session.request(method, f"{self.base_url}{path}", timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise FlinkRestError(
                f"Flink REST API unreachable at {self.base_url} ({exc}): is the cluster up?"
            ) from exc
        if resp.status_code >= 400:
            raise FlinkRestError(f"{method} {path} -> {resp.status_code}: {resp.text[:300]}")
        return resp.json() if resp.content else None

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def overview(self) -> dict[str, Any]:
        return self.get("/overview")

    def jobs(self) -> list[FlinkJob]:
        return rest.parse_jobs(self.get(rest.JOBS_OVERVIEW))

    def active_jobs(self, name: str) -> list[FlinkJob]:
        """Jobs called ``name`` that are running or about to (not finished, failed or cancelled)."""
        return rest.active_jobs(self.jobs(), name)

    def current_job(self, name: str) -> FlinkJob | None:
        """The active job called ``name``, else the most recently started one (or None)."""
        return rest.current_job(self.jobs(), name)

    def running_job(self, name: str) -> FlinkJob | None:
        """The job called ``name`` when it is RUNNING (only then has it watermarks and checkpoints)."""
        return rest.running_job(self.jobs(), name)

    def checkpoints(self, job_id: str) -> CheckpointInfo:
        return rest.parse_checkpoints(self.get(rest.checkpoints_path(job_id)))

    def newest_state(self, name: str) -> str | None:
        """The newest completed checkpoint or savepoint of any job called ``name`` the JobManager
        still knows (running, cancelled, failed or stopped with a savepoint)."""
        named = [job for job in self.jobs() if job.name == name]
        return rest.newest_state_path(self.get(rest.checkpoints_path(job.job_id)) for job in named)

    def watermark_ms(self, job_id: str) -> int | None:
        """The job's newest event-time watermark over all operators (None before its first event)."""
        return rest.newest_watermark_ms(self.get, job_id)

    def job_state(self, job_id: str) -> str:
        return self.get(f"/jobs/{job_id}")["state"]

    def failure_cause(self, job_id: str) -> str:
        """The first line of the job's root exception ("" when it has none, or Flink cannot say)."""
        try:
            root = self.get(f"/jobs/{job_id}/exceptions").get("root-exception") or ""
        except (FlinkRestError, AttributeError):
            return ""
        return root.strip().splitlines()[0][:300] if root.strip() else ""

    def cancel(self, job_id: str) -> None:
        self.call("PATCH", f"/jobs/{job_id}", params={"mode": "cancel"})

    def wait_finished(self, job_id: str, timeout: float, poll: float = 1.0) -> None:
        """Until the bounded job ``job_id`` is FINISHED; a failed, cancelled or late job raises.

        A job still running at ``timeout`` is cancelled before the error, so nothing of it is left
        writing behind the caller's back.
        """
        deadline = time.monotonic() + timeout
        while (state := self.job_state(job_id)) != "FINISHED":
            if state in FAILED_STATES:
                cause = self.failure_cause(job_id)
                raise FlinkRestError(f"Flink job {job_id} ended {state}" + (f": {cause}" if cause else ""))
            if time.monotonic() > deadline:
                with contextlib.suppress(FlinkRestError):  # the timeout is the error worth reporting
                    self.cancel(job_id)
                raise FlinkRestError(f"Flink job {job_id} did not finish within {timeout:.0f} s (cancelled)")
            time.sleep(poll)

    def stop_with_savepoint(self, job_id: str, target_directory: str | None, timeout: float = 300.0) -> str:
        """Takes a savepoint and stops the job once it is written; returns the savepoint path."""
        body: dict[str, Any] = {"drain": False}
        if target_directory:
            body["targetDirectory"] = target_directory
        trigger = self.call("POST", f"/jobs/{job_id}/stop", json=body)["request-id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.get(f"/jobs/{job_id}/savepoints/{trigger}")
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


def client_from(cfg: dict[str, str], timeout: float = 10.0) -> FlinkRestClient:
    """The client of the cluster ``FLINK_REST_URL`` names."""
    return FlinkRestClient(cfg["FLINK_REST_URL"], timeout)
