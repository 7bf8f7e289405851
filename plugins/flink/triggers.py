"""Deferrable wait for a Flink job to be healthy (RUNNING with a recent checkpoint)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class FlinkJobHealthTrigger(BaseTrigger):
    """Polls the JobManager until the job called ``job_name`` is healthy, or ``timeout`` passes.

    Reads Flink's answers with :mod:`include.flink_jobs.common.rest`, as the hook does, over aiohttp
    (the triggerer's event loop must not block on requests).

    Yields one event: ``{"status": "healthy"|<last status>, "job_id", "detail"}``.

    :param base_url: Flink REST URL (resolved from the connection by the sensor).
    :param job_name: the job's name (``pipeline.name``).
    :param max_checkpoint_age_s: see :func:`include.flink_jobs.common.health.assess`.
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

    async def _get(self, session: Any, path: str) -> Any:
        async with session.get(f"{self.base_url}{path}") as resp:
            return await resp.json()

    async def _poll(self, session: Any) -> dict[str, Any]:
        from include.flink_jobs.common import rest
        from include.flink_jobs.common.health import assess

        job = rest.current_job(rest.parse_jobs(await self._get(session, rest.JOBS_OVERVIEW)), self.job_name)
        checkpoints = None
        if job is not None and job.state == "RUNNING":
            checkpoints = rest.parse_checkpoints(await self._get(session, rest.checkpoints_path(job.job_id)))
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
