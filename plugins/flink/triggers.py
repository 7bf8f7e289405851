"""Deferrable wait for a Flink job to be healthy (RUNNING with a recent checkpoint)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class FlinkJobHealthTrigger(BaseTrigger):
    """Polls the JobManager until the job called ``job_name`` is healthy, or ``timeout`` passes.

    Yields one event: ``{"status": "healthy"|<last status>, "job_id", "detail"}``.

    :param base_url: Flink REST URL (resolved from the connection by the sensor).
    :param job_name: the job's name (``pipeline.name``).
    :param max_checkpoint_age_s: see :func:`plugins.flink.health.assess`.
    :param poll_interval: seconds between polls. Default: 5.
    :param timeout: seconds before giving up. Default: 600.
    """

    def __init__(
        self,
        base_url: str,
        job_name: str,
        max_checkpoint_age_s: float,
        poll_interval: float = 5.0,
        timeout: float = 600.0,
    ) -> None:
        super().__init__()
        self.base_url = base_url
        self.job_name = job_name
        self.max_checkpoint_age_s = max_checkpoint_age_s
        self.poll_interval = poll_interval
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "plugins.flink.triggers.FlinkJobHealthTrigger",
            {
                "base_url": self.base_url,
                "job_name": self.job_name,
                "max_checkpoint_age_s": self.max_checkpoint_age_s,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
            },
        )

    async def _poll(self, session: Any) -> dict[str, Any]:
        from plugins.flink.health import assess
        from plugins.flink.hooks import ACTIVE_STATES, CheckpointInfo, FlinkJob

        async with session.get(f"{self.base_url}/jobs/overview") as resp:
            jobs = (await resp.json())["jobs"]
        named = [
            FlinkJob(j["jid"], j["name"], j["state"], int(j.get("start-time", 0)))
            for j in jobs
            if j["name"] == self.job_name
        ]
        active = [j for j in named if j.state in ACTIVE_STATES]
        job = max(active or named, key=lambda j: j.start_time_ms) if named else None
        checkpoints = None
        if job is not None and job.state == "RUNNING":
            async with session.get(f"{self.base_url}/jobs/{job.job_id}/checkpoints") as resp:
                data = await resp.json()
            latest = (data.get("latest") or {}).get("completed") or {}
            counts = data.get("counts") or {}
            checkpoints = CheckpointInfo(
                int(counts.get("completed", 0)),
                int(counts.get("failed", 0)),
                latest.get("external_path"),
                latest.get("latest_ack_timestamp"),
            )
        health = assess(job, checkpoints, int(time.time() * 1000), self.max_checkpoint_age_s)
        return {"status": health.status, "job_id": health.job_id, "detail": health.detail}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        import aiohttp

        deadline = time.monotonic() + self.timeout
        last: dict[str, Any] = {"status": "unknown", "job_id": None, "detail": "never polled"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            while True:
                try:
                    last = await self._poll(session)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last = {"status": "unreachable", "job_id": None, "detail": f"{self.base_url}: {exc}"}
                # not_running = FAILED, CANCELED or FINISHED: final, waiting cannot make it healthy.
                if last["status"] in ("healthy", "not_running") or time.monotonic() > deadline:
                    yield TriggerEvent(last)
                    return
                await asyncio.sleep(self.poll_interval)
