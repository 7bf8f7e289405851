"""The health rules shared by the Flink sensor, trigger and health DAG."""

from __future__ import annotations

import pytest

from include.flink_jobs.common.health import assess
from include.flink_jobs.common.rest import CheckpointInfo, FlinkJob
from plugins.flink.triggers import FlinkJobHealthTrigger

NOW = 1_000_000_000


def job(state: str = "RUNNING", started_s_ago: float = 600) -> FlinkJob:
    return FlinkJob("j1", "ad_window_metrics", state, int(NOW - started_s_ago * 1000))


def ckpt(ack_s_ago: float | None) -> CheckpointInfo:
    return CheckpointInfo(3, 0, "file:///c", None if ack_s_ago is None else int(NOW - ack_s_ago * 1000))


@pytest.mark.parametrize(
    ("job_", "checkpoints", "status", "resubmit"),
    [
        pytest.param(job(), ckpt(10), "healthy", False, id="recent-checkpoint"),
        pytest.param(job(), ckpt(500), "stale", False, id="old-checkpoint"),
        pytest.param(job(started_s_ago=30), ckpt(None), "starting", False, id="young-no-checkpoint"),
        pytest.param(job(started_s_ago=600), ckpt(None), "stale", False, id="old-no-checkpoint"),
        pytest.param(job("RESTARTING"), None, "starting", False, id="restarting-is-flinks-job"),
        pytest.param(job("FAILED"), None, "not_running", True, id="failed"),
        pytest.param(job("CANCELED"), None, "not_running", True, id="cancelled"),
        pytest.param(None, None, "missing", True, id="missing"),
    ],
)
def test_assess(job_, checkpoints, status, resubmit):
    health = assess(job_, checkpoints, NOW, max_age_s=120)
    assert (health.status, health.needs_resubmit, health.ok) == (status, resubmit, status == "healthy")


def test_trigger_serializes_to_its_own_classpath():
    trigger = FlinkJobHealthTrigger(
        "http://flink:8081", "ad_window_metrics", 120, poll_interval=2, timeout=30
    )
    path, kwargs = trigger.serialize()
    assert path == "plugins.flink.triggers.FlinkJobHealthTrigger"
    assert FlinkJobHealthTrigger(**kwargs).serialize() == (path, kwargs)
