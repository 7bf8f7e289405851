"""Make sure one copy of a job runs: shared by the submit and the resubmit operators."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from include.flink_jobs.common.state import StateUnknown, latest_state
from include.flink_jobs.common.submit import IncompatibleStateError, JobSpec, submit
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
    """Returns the active job called ``job_name``, submitting it first when none is active.

    Check-then-submit: callers run one at a time, in the pool AIRFLOW_FLINK_SUBMIT_POOL (the
    operators in plugins/flink/operators.py).
    """
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
    try:
        restored_from = (
            latest_state(job_name, client=hook)
            if restore == "latest"
            else (None if restore == "none" else restore)
        )
        job_id = submit(spec, restore_from=restored_from)
    except (IncompatibleStateError, StateUnknown) as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from None  # a retry would hit the same state
    origin = f"restored from {restored_from}" if restored_from else "from scratch (no earlier state)"
    return EnsureResult(job_id, True, restored_from, f"submitted {job_name} as {job_id}, {origin}")
