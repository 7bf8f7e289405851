"""The archive sensor and its trigger against a real directory tree (no services needed)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from include import archive
from plugins.archive.sensors import ArchiveDayCompleteSensor
from plugins.archive.triggers import ArchiveDayCompleteTrigger

DAY = date(2014, 10, 21)


def _complete(root: Path, *hours: int) -> None:
    for hour in hours:
        archive.hour_dir(root, DAY, hour).mkdir(parents=True, exist_ok=True)
        (archive.hour_dir(root, DAY, hour) / archive.HOUR_COMPLETE_MARKER).touch()


def _run(coroutine: Any) -> Any:
    """asyncio.run in a thread of its own: the session's Playwright browser keeps an event loop
    running in the main thread, where asyncio.run refuses to start another."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _first_event(trigger: ArchiveDayCompleteTrigger) -> dict:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


def test_trigger_fires_once_the_hours_are_complete(tmp_path: Path) -> None:
    _complete(tmp_path, 0)
    trigger = ArchiveDayCompleteTrigger(
        str(tmp_path), DAY.isoformat(), [0, 1], poll_interval=0.05, timeout=30
    )

    async def complete_later() -> dict:
        task = asyncio.create_task(_first_event(trigger))
        await asyncio.sleep(0.2)
        assert not task.done()  # hour 01 is still missing
        _complete(tmp_path, 1)
        return await asyncio.wait_for(task, 5)

    assert _run(complete_later()) == {"status": "complete", "missing": []}


def test_trigger_times_out_naming_the_missing_hours(tmp_path: Path) -> None:
    _complete(tmp_path, *range(0, 24, 2))
    trigger = ArchiveDayCompleteTrigger(str(tmp_path), DAY.isoformat(), list(range(24)), 0.05, timeout=0.2)
    event = _run(_first_event(trigger))
    assert event == {"status": "timeout", "missing": list(range(1, 24, 2))}
    # The trigger survives a triggerer restart: it serializes to its own arguments.
    path, kwargs = trigger.serialize()
    assert path == "plugins.archive.triggers.ArchiveDayCompleteTrigger" and kwargs["hours"] == list(range(24))


def test_sensor_timeout_fails_for_good_with_the_missing_hours(tmp_path: Path) -> None:
    sensor = ArchiveDayCompleteSensor(
        task_id="wait", day=DAY.isoformat(), archive_uri=tmp_path.as_uri(), timeout=60
    )
    with pytest.raises(AirflowFailException, match=r"still missing hours 05, 06 after 60s"):
        sensor.execute_complete({}, {"status": "timeout", "missing": [5, 6]})


@pytest.mark.parametrize(
    ("hours", "expected"),
    [(None, list(range(24))), ("all", list(range(24))), ("none", []), ("3,1,1", [1, 3]), ([2, 0], [0, 2])],
)
def test_sensor_hours(hours: object, expected: list[int], tmp_path: Path) -> None:
    sensor = ArchiveDayCompleteSensor(
        task_id="wait", day=DAY.isoformat(), hours=hours, archive_uri=str(tmp_path)
    )
    assert sensor._hours() == expected


def test_sensor_succeeds_without_deferring_when_complete(tmp_path: Path) -> None:
    _complete(tmp_path, 7)
    sensor = ArchiveDayCompleteSensor(
        task_id="wait", day=DAY.isoformat(), hours="7", archive_uri=str(tmp_path)
    )
    assert sensor.execute({}) == [7]
