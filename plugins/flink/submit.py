"""Shared by the submit operator and the health DAG: make sure one copy of a job runs."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from include.flink_cli import JobSpec, latest_state, submit
from plugins.flink.hooks import FlinkRestHook


@dataclass(frozen=True)
class EnsureResult:
    job_id: str
    submitted: bool
    restored_from: str | None
    message: str


def load_spec_callable(dotted: str) -> Callable[[], JobSpec]:
    """``package.module.function`` -> the function (callables travel as strings, per Airflow practice)."""
    module, _, attr = dotted.rpartition(".")
    if not module:
        raise ValueError(f"{dotted!r} is not a dotted path like 'package.module.function'")
    return getattr(importlib.import_module(module), attr)


def ensure_job(
    job_name: str, spec_callable: str, restore: str = "latest", flink_conn_id: str = "flink_rest"
) -> EnsureResult:
    """Returns the active job called ``job_name``, submitting it first when none is active."""
    hook = FlinkRestHook(flink_conn_id)
    active = hook.active_jobs(job_name)
    if active:
        job = active[0]
        return EnsureResult(
            job.job_id, False, None, f"{job_name} already {job.state} as {job.job_id}: nothing submitted"
        )
    spec = load_spec_callable(spec_callable)()
    if spec.name != job_name:
        raise ValueError(f"{spec_callable} describes job {spec.name!r}, expected {job_name!r}")
    restored_from = (
        latest_state(job_name) if restore == "latest" else (None if restore == "none" else restore)
    )
    job_id = submit(spec, restore_from=restored_from)
    origin = f"restored from {restored_from}" if restored_from else "from scratch (no earlier state)"
    return EnsureResult(job_id, True, restored_from, f"submitted {job_name} as {job_id}, {origin}")
