"""Make sure one copy of a job runs: shared by the submit and the resubmit operators."""

from __future__ import annotations

import contextlib
import fcntl
import importlib
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def submission_lock(job_name: str) -> Iterator[None]:
    """One check-then-submit at a time per job name on this machine.

    The deploy, savepoint and health DAGs may all find the job missing at the same moment (after a
    restart, say); without the lock each would submit a copy. A file lock covers every Airflow
    worker of one host (LocalExecutor, the compose stack); a multi-host deployment would use an
    Airflow pool of one slot for these tasks instead.
    """
    from include import config

    path = config.data_dir() / "run" / f"flink-submit-{job_name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_job(
    job_name: str, spec_callable: str, restore: str = "latest", flink_conn_id: str = "flink_rest"
) -> EnsureResult:
    """Returns the active job called ``job_name``, submitting it first when none is active."""
    with submission_lock(job_name):
        return _ensure_job(job_name, spec_callable, restore, flink_conn_id)


def _ensure_job(job_name: str, spec_callable: str, restore: str, flink_conn_id: str) -> EnsureResult:
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
