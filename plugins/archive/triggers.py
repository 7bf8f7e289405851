"""Deferrable wait until every hour of a day of the event archive is complete."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class ArchiveDayCompleteTrigger(BaseTrigger):
    """Polls the archive's completion markers until ``hours`` of ``day`` are complete, or ``timeout``.

    Yields one event: ``{"status": "complete"|"timeout", "missing": [hours not complete]}``.

    :param root: the archive's local directory.
    :param day: ``YYYY-MM-DD``.
    :param hours: the hours to wait for (0-23).
    :param poll_interval: seconds between polls.
    :param timeout: seconds before giving up.
    """

    def __init__(
        self, root: str, day: str, hours: list[int], poll_interval: float = 30.0, timeout: float = 3600.0
    ) -> None:
        super().__init__()
        self.root = root
        self.day = day
        self.hours = list(hours)
        self.poll_interval = poll_interval
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "plugins.archive.triggers.ArchiveDayCompleteTrigger",
            {
                "root": self.root,
                "day": self.day,
                "hours": self.hours,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from include import archive

        deadline = time.monotonic() + self.timeout
        day = date.fromisoformat(self.day)
        while True:
            # A directory listing is quick, but keep it off the triggerer's event loop.
            missing = await asyncio.to_thread(archive.missing_hours, Path(self.root), day, self.hours)
            if not missing:
                yield TriggerEvent({"status": "complete", "missing": []})
                return
            if time.monotonic() > deadline:
                yield TriggerEvent({"status": "timeout", "missing": missing})
                return
            await asyncio.sleep(self.poll_interval)
