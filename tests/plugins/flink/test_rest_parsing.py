"""Flink REST answers as the hook, the trigger and the demo read them (include/flink_jobs/common/rest.py)."""

from __future__ import annotations

import pytest

from include.flink_jobs.common import rest

OVERVIEW = {
    "jobs": [
        {"jid": "old", "name": "ad_window_metrics", "state": "CANCELED", "start-time": 1},
        {"jid": "now", "name": "ad_window_metrics", "state": "RUNNING", "start-time": 2},
        {"jid": "newest-dead", "name": "ad_window_metrics", "state": "FAILED", "start-time": 3},
        {"jid": "other", "name": "smoke", "state": "RESTARTING", "start-time": 4},
    ]
}


def test_the_active_job_of_a_name_wins_over_newer_dead_ones():
    jobs = rest.parse_jobs(OVERVIEW)
    assert [j.job_id for j in rest.active_jobs(jobs, "ad_window_metrics")] == ["now"]
    assert rest.current_job(jobs, "ad_window_metrics").job_id == "now"
    assert rest.running_job(jobs, "ad_window_metrics").job_id == "now"


def test_without_an_active_job_the_newest_is_current_but_none_runs():
    jobs = rest.parse_jobs({"jobs": [j for j in OVERVIEW["jobs"] if j["jid"] != "now"]})
    assert rest.current_job(jobs, "ad_window_metrics").job_id == "newest-dead"
    assert rest.running_job(jobs, "ad_window_metrics") is None
    assert rest.current_job(jobs, "smoke").state == "RESTARTING"
    assert rest.running_job(jobs, "smoke") is None
    assert rest.current_job(jobs, "missing") is None


def test_checkpoints_with_and_without_a_completed_one():
    done = rest.parse_checkpoints(
        {
            "counts": {"completed": 3, "failed": 1},
            "latest": {"completed": {"external_path": "file:/c/chk-3", "latest_ack_timestamp": 99}},
        }
    )
    assert done == rest.CheckpointInfo(3, 1, "file:/c/chk-3", 99)
    assert rest.parse_checkpoints({"counts": {}, "latest": {"completed": None}}) == rest.CheckpointInfo(
        0, 0, None, None
    )


@pytest.mark.parametrize(
    ("marks", "expected"),
    [
        pytest.param([["5000"], ["7000", "6000"]], 7000, id="newest-over-operators"),
        pytest.param([[str(-(2**63))]], None, id="before-the-first-event"),
        pytest.param([[]], None, id="no-watermarks-reported"),
    ],
)
def test_newest_watermark_over_all_operators(marks, expected):
    answers = {"/jobs/j": {"vertices": [{"id": f"v{i}"} for i in range(len(marks))]}}
    for i, values in enumerate(marks):
        answers[f"/jobs/j/vertices/v{i}/watermarks"] = [{"id": "0.w", "value": v} for v in values]
    assert rest.newest_watermark_ms(answers.__getitem__, "j") == expected


def test_hook_reads_no_watermark_from_an_unreachable_cluster(monkeypatch):
    from plugins.flink.hooks import FlinkRestHook

    # Port 9 (discard) on loopback refuses at once: "Flink cannot be asked".
    monkeypatch.setenv("AIRFLOW_CONN_FLINK_REST", '{"conn_type": "http", "host": "http://127.0.0.1:9"}')
    assert FlinkRestHook(timeout=2).running_job_watermark_ms("ad_window_metrics") is None
