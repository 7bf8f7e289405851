"""A minimal client of Airflow 3's REST API (/api/v2), for `make demo`, tests and scripts.

Why ours and not ``apache-airflow-client`` (3.3.2, the generated client of the same API): we call
eight endpoints, and importing that client costs 2.5-5.5 s (it loads a pydantic model for every
schema of the API; measured with ``python -X importtime``) against 0.2 s for this module, paid by
every `make demo`, CLI and test process. It also leaves the login to the caller: the token from
``/auth/token`` below is the same code either way.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import requests

TERMINAL_STATES = {"success", "failed"}


class AirflowApiError(RuntimeError):
    pass


class AirflowClient:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        resp = self.session.post(
            f"{self.base_url}/auth/token", json={"username": username, "password": password}, timeout=timeout
        )
        if resp.status_code >= 400:
            raise AirflowApiError(
                f"login as {username!r} failed ({resp.status_code}): check AIRFLOW_ADMIN_* in .env"
            )
        self.session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = self.session.request(method, f"{self.base_url}/api/v2{path}", timeout=self.timeout, **kwargs)
        if resp.status_code >= 400:
            raise AirflowApiError(f"{method} /api/v2{path} -> {resp.status_code}: {resp.text[:300]}")
        return resp.json() if resp.content else None

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Waits until the dag processor has parsed ``dag_id`` (a new checkout's first minute)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._call("GET", f"/dags/{dag_id}")
            except AirflowApiError:
                errors = self._call("GET", "/importErrors").get("import_errors", [])
                if errors:
                    raise AirflowApiError(f"DAG import errors: {errors[0]['stack_trace'][-500:]}") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)

    def pool(self, name: str) -> dict[str, Any] | None:
        """The pool called ``name`` (its ``slots``...), None when there is none."""
        try:
            return self._call("GET", f"/pools/{name}")
        except AirflowApiError as exc:
            if " -> 404:" in str(exc):
                return None
            raise

    def unpause(self, dag_id: str) -> None:
        self._call("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def set_paused(self, dag_id: str, paused: bool) -> bool:
        """Pauses or unpauses ``dag_id``; returns whether it was paused before."""
        was_paused = bool(self.wait_for_dag(dag_id)["is_paused"])
        self._call("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})
        return was_paused

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        run = self._call("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            state = self.dag_run(dag_id, run_id)["state"]
            if state in TERMINAL_STATES:
                return state
            if time.monotonic() > deadline:
                raise AirflowApiError(f"{dag_id} run {run_id} still {state} after {timeout:.0f}s")
            time.sleep(2)

    def set_run_note(self, dag_id: str, run_id: str, note: str) -> None:
        """The run's note: shown above its tasks in the grid, and in the runs list (Airflow keeps
        at most 1,000 characters)."""
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"
        self._call("PATCH", path, params={"update_mask": "note"}, json={"note": note[:1000]})

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        entry = self._call(
            "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        )
        return entry["value"]

    def run_and_wait(
        self, dag_id: str, conf: dict[str, Any] | None = None, timeout: float = 600.0
    ) -> tuple[str, str]:
        """Unpauses, triggers and waits for ``dag_id``; returns (run_id, final state)."""
        self.wait_for_dag(dag_id)
        self.unpause(dag_id)
        run_id = self.trigger(dag_id, conf)
        return run_id, self.wait_for_run(dag_id, run_id, timeout)
