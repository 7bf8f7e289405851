"""Airflow hook over Flink's REST API (a session cluster's JobManager)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import requests
from airflow.sdk import BaseHook

ACTIVE_STATES = frozenset({"CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "RECONCILING"})


@dataclass(frozen=True)
class FlinkJob:
    job_id: str
    name: str
    state: str
    start_time_ms: int


@dataclass(frozen=True)
class CheckpointInfo:
    completed: int
    failed: int
    latest_path: str | None
    latest_ack_ms: int | None


class FlinkRestError(RuntimeError):
    """The JobManager answered with an error, or an operation did not complete."""


class FlinkRestHook(BaseHook):
    """Owns the ``flink_rest`` connection: the JobManager's REST URL.

    - The connection's host is a full URL (``http://127.0.0.1:8081``) or a host with ``schema`` and
      ``port``.

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

    def overview(self) -> dict[str, Any]:
        return self._call("GET", "/overview")

    def jobs(self) -> list[FlinkJob]:
        return [
            FlinkJob(j["jid"], j["name"], j["state"], int(j.get("start-time", 0)))
            for j in self._call("GET", "/jobs/overview")["jobs"]
        ]

    def active_jobs(self, name: str) -> list[FlinkJob]:
        """Jobs called ``name`` that are running or about to (not finished, failed or cancelled)."""
        return [j for j in self.jobs() if j.name == name and j.state in ACTIVE_STATES]

    def current_job(self, name: str) -> FlinkJob | None:
        """The active job called ``name``, else the most recently started one (or None)."""
        named = [j for j in self.jobs() if j.name == name]
        active = [j for j in named if j.state in ACTIVE_STATES]
        pool = active or named
        return max(pool, key=lambda j: j.start_time_ms) if pool else None

    def checkpoints(self, job_id: str) -> CheckpointInfo:
        data = self._call("GET", f"/jobs/{job_id}/checkpoints")
        latest = (data.get("latest") or {}).get("completed") or {}
        counts = data.get("counts") or {}
        return CheckpointInfo(
            completed=int(counts.get("completed", 0)),
            failed=int(counts.get("failed", 0)),
            latest_path=latest.get("external_path"),
            latest_ack_ms=latest.get("latest_ack_timestamp"),
        )

    def watermark_ms(self, job_id: str) -> int | None:
        """The job's newest event-time watermark over all operators (None before its first event)."""
        from include.realtime_job import newest_watermark_ms

        return newest_watermark_ms(lambda path: self._call("GET", path), job_id)

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
            status = self._call("GET", f"/jobs/{job_id}/savepoints/{trigger}")
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
