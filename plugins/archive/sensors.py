"""Sensor: wait (deferred, no worker slot held) until a day of the event archive is complete."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from airflow.sdk import BaseSensorOperator, Context


class ArchiveDayCompleteSensor(BaseSensorOperator):
    """Succeeds once every hour of ``day`` in ``hours`` carries the archive's completion marker.

    An hour is complete when the streaming job's watermark has passed its end (include/archive.py).
    Checks once in the worker (a finished day costs no deferral), then defers to
    :class:`~plugins.archive.triggers.ArchiveDayCompleteTrigger`. On timeout it fails, naming the
    missing hours, without retrying, and the DAG's failure callback tells Slack.

    :param day: ``YYYY-MM-DD``. Templated.
    :param hours: hours to wait for: a list, a comma-separated string, ``all`` (default) or ``none``.
        Templated.
    :param archive_uri: the archive; default the FLINK_ARCHIVE_URI setting.
    :param poll_interval: seconds between polls. Default: 30.
    :param timeout: seconds to wait overall. Default: 6 h.
    """

    template_fields: Sequence[str] = ("day", "hours")

    def __init__(
        self,
        *,
        day: str,
        hours: list[int] | str | None = None,
        archive_uri: str | None = None,
        poll_interval: float = 30.0,
        timeout: float = 6 * 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(timeout=timeout, poke_interval=poll_interval, **kwargs)
        self.day = day
        self.hours = hours
        self.archive_uri = archive_uri
        self.poll_interval = poll_interval
        self.wait_timeout = timeout

    def _root(self) -> Path:
        from include import archive, config

        return archive.root_path(self.archive_uri or config.get("FLINK_ARCHIVE_URI"))

    def _hours(self) -> list[int]:
        from include.archive import HOURS_PER_DAY

        value = self.hours
        if value is None or value == "" or value == "all":
            return list(range(HOURS_PER_DAY))
        if value == "none":
            return []
        items = value.split(",") if isinstance(value, str) else value
        hours = sorted({int(str(h).strip()) for h in items})
        if any(not 0 <= h < HOURS_PER_DAY for h in hours):
            raise ValueError(f"hours must be within 0-23, got {value!r}")
        return hours

    def execute(self, context: Context) -> list[int]:
        from include import archive
        from plugins.archive.triggers import ArchiveDayCompleteTrigger

        root, day, hours = self._root(), date.fromisoformat(str(self.day)), self._hours()
        missing = archive.missing_hours(root, day, hours)
        if not missing:
            self.log.info("archive of %s complete for hours %s (%s)", day, _span(hours), root)
            return hours
        self.log.info("waiting for hours %s of %s in %s (deferred)", _span(missing), day, root)
        self.defer(
            trigger=ArchiveDayCompleteTrigger(
                str(root), day.isoformat(), hours, poll_interval=self.poll_interval, timeout=self.wait_timeout
            ),
            method_name="execute_complete",
        )
        return hours  # not reached: defer() raises

    def execute_complete(self, context: Context, event: dict[str, Any]) -> list[int]:
        from airflow.sdk.exceptions import AirflowFailException

        if event.get("status") != "complete":
            # Final: a retry would wait as long again; the failure alert names the missing hours.
            raise AirflowFailException(
                f"the archive of {self.day} is still missing hours {_span(event.get('missing') or [])} after "
                f"{self.wait_timeout:.0f}s: is the streaming job running and has the replay reached the "
                "end of that day? (make status; docs/batch.md \"Archive\")"
            )
        self.log.info("archive of %s complete", self.day)
        return self._hours()


def _span(hours: list[int]) -> str:
    return ", ".join(f"{h:02d}" for h in hours) or "none"
