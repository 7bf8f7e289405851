"""What "healthy" means for a streaming job: one pure function for the sensor, trigger and health DAG."""

from __future__ import annotations

from dataclasses import dataclass

from include.flink_jobs.common.rest import CheckpointInfo, FlinkJob


@dataclass(frozen=True)
class JobHealth:
    status: str  # healthy | starting | stale | not_running | missing
    job_id: str | None
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == "healthy"

    @property
    def needs_resubmit(self) -> bool:
        return self.status in ("not_running", "missing")


def assess(
    job: FlinkJob | None, checkpoints: CheckpointInfo | None, now_ms: int, max_age_s: float
) -> JobHealth:
    """Healthy = RUNNING with a checkpoint completed in the last ``max_age_s`` seconds.

    - A job younger than ``max_age_s`` without a checkpoint yet is ``starting``, not unhealthy.
    - RESTARTING and friends are ``starting``: Flink is recovering by itself, do not resubmit.
    - FAILED, CANCELED, FINISHED, or no job at all: ``not_running`` / ``missing`` (resubmit).
    """
    if job is None:
        return JobHealth("missing", None, "no job with this name on the cluster")
    if not job.active:
        return JobHealth("not_running", job.job_id, f"job {job.job_id} is {job.state}")
    if job.state != "RUNNING":
        return JobHealth("starting", job.job_id, f"job {job.job_id} is {job.state}")
    age_s = (now_ms - job.start_time_ms) / 1000
    last_ack = checkpoints.latest_ack_ms if checkpoints else None
    if last_ack is None:
        if age_s <= max_age_s:
            return JobHealth("starting", job.job_id, f"running for {age_s:.0f}s, no checkpoint yet")
        return JobHealth("stale", job.job_id, f"running for {age_s:.0f}s without a completed checkpoint")
    ckpt_age = (now_ms - last_ack) / 1000
    if ckpt_age > max_age_s:
        return JobHealth("stale", job.job_id, f"last checkpoint {ckpt_age:.0f}s ago (limit {max_age_s:.0f}s)")
    return JobHealth("healthy", job.job_id, f"running, last checkpoint {ckpt_age:.0f}s ago")
