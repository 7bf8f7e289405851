"""Flink REST API answers (a session cluster's JobManager) as small dataclasses.

Airflow-free and transport-free: each function takes the JSON one endpoint returned, so the hook
(requests), the trigger (aiohttp), the demo and the benchmarks all read Flink the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

# Not finished, failed or cancelled: a job in one of these states may still produce results, so a
# second copy must not be submitted next to it.
ACTIVE_STATES = frozenset({"CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "RECONCILING"})
JOBS_OVERVIEW = "/jobs/overview"

GetJson = Callable[[str], Any]


@dataclass(frozen=True)
class FlinkJob:
    job_id: str
    name: str
    state: str
    start_time_ms: int

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(frozen=True)
class CheckpointInfo:
    completed: int
    failed: int
    latest_path: str | None
    latest_ack_ms: int | None


def checkpoints_path(job_id: str) -> str:
    return f"/jobs/{job_id}/checkpoints"


def parse_jobs(overview: dict[str, Any]) -> list[FlinkJob]:
    """``GET /jobs/overview`` -> every job the cluster remembers, in any state."""
    return [FlinkJob(j["jid"], j["name"], j["state"], int(j.get("start-time", 0))) for j in overview["jobs"]]


def active_jobs(jobs: Iterable[FlinkJob], name: str) -> list[FlinkJob]:
    """Jobs called ``name`` that are running or about to (not finished, failed or cancelled)."""
    return [j for j in jobs if j.name == name and j.active]


def current_job(jobs: Iterable[FlinkJob], name: str) -> FlinkJob | None:
    """The active job called ``name``, else the most recently started one (or None).

    Job ids change at every submission, so "the" job is found by name; an old cancelled copy must
    not hide the one that runs now.
    """
    named = [j for j in jobs if j.name == name]
    pool = [j for j in named if j.active] or named
    return max(pool, key=lambda j: j.start_time_ms) if pool else None


def running_job(jobs: Iterable[FlinkJob], name: str) -> FlinkJob | None:
    """The current job called ``name`` when it is RUNNING: only then has it watermarks and checkpoints."""
    job = current_job(jobs, name)
    return job if job is not None and job.state == "RUNNING" else None


def parse_checkpoints(data: dict[str, Any]) -> CheckpointInfo:
    """``GET /jobs/<id>/checkpoints`` -> counts and the newest completed checkpoint."""
    latest = (data.get("latest") or {}).get("completed") or {}
    counts = data.get("counts") or {}
    return CheckpointInfo(
        completed=int(counts.get("completed", 0)),
        failed=int(counts.get("failed", 0)),
        latest_path=latest.get("external_path"),
        latest_ack_ms=latest.get("latest_ack_timestamp"),
    )


def newest_state_path(checkpoint_answers: Iterable[dict[str, Any]]) -> str | None:
    """The newest completed checkpoint or savepoint among answers of ``GET /jobs/<id>/checkpoints``
    (one per job), by the time its last acknowledgement arrived; None when none has one."""
    newest: tuple[int, str] | None = None
    for data in checkpoint_answers:
        latest = data.get("latest") or {}
        for kind in ("completed", "savepoint"):
            entry = latest.get(kind) or {}
            path, acked = entry.get("external_path"), entry.get("latest_ack_timestamp")
            # A checkpoint that was not written durably has a placeholder instead of a path.
            if not path or "/" not in path or acked is None:
                continue
            if newest is None or int(acked) > newest[0]:
                newest = (int(acked), path)
    return newest[1] if newest else None


def newest_watermark_ms(get_json: GetJson, job_id: str) -> int | None:
    """A job's newest event-time watermark over all its operators (None before its first event).

    ``get_json(path)`` answers a GET on the REST API; one call for the job's operators, one per
    operator for its watermarks. Flink reports Long.MIN_VALUE until an operator has seen an event.
    """
    vertices = get_json(f"/jobs/{job_id}")["vertices"]
    marks = [
        int(m["value"]) for v in vertices for m in get_json(f"/jobs/{job_id}/vertices/{v['id']}/watermarks")
    ]
    newest = max(marks, default=-(2**63))
    return newest if newest > 0 else None
