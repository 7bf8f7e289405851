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


def _checkpoints(completed=None, savepoint=None, restored=None):
    def entry(value):
        return None if value is None else {"external_path": value[0], "latest_ack_timestamp": value[1]}

    return {
        "latest": {"completed": entry(completed), "savepoint": entry(savepoint), "restored": entry(restored)}
    }


def test_the_newest_state_is_the_last_acknowledged_checkpoint_or_savepoint_of_any_job():
    answers = [
        _checkpoints(completed=("file:/cp/old/chk-9", 100)),
        _checkpoints(completed=("file:/cp/now/chk-3", 300), savepoint=("file:/sp/now/savepoint-1", 250)),
        _checkpoints(
            savepoint=("s3://bucket/sp/stopped/savepoint-2", 400), restored=("file:/cp/x/chk-1", 900)
        ),
    ]
    assert rest.newest_state_path(answers) == "s3://bucket/sp/stopped/savepoint-2"
    assert rest.newest_state_path(answers[:2]) == "file:/cp/now/chk-3"


def test_no_durable_state_is_none():
    # What a restore alone, or a checkpoint that was never written durably, looks like.
    answers = [
        _checkpoints(restored=("file:/cp/x/chk-1", 900)),
        _checkpoints(completed=("<checkpoint-not-externally-addressable>", 500)),
        {"counts": {"completed": 0}},
    ]
    assert rest.newest_state_path(answers) is None


class _ClusterWithoutHistory:
    """A JobManager that was restarted: it knows no job of the name (a stand-in for its REST answer)."""

    def newest_state(self, name):
        return None


def test_state_on_an_unlistable_store_is_never_silently_skipped(tmp_path):
    from include import config
    from include.flink_jobs.common.state import StateUnknown, latest_state

    cfg = {**config.resolve(), "FLINK_CHECKPOINTS_URI": "s3://bucket/checkpoints"}
    cfg["FLINK_SAVEPOINTS_URI"] = f"file://{tmp_path}"
    with pytest.raises(StateUnknown, match=r"s3://bucket/checkpoints/job_x cannot be listed.*restore=none"):
        latest_state("job_x", cfg, client=_ClusterWithoutHistory())


def test_a_restarted_cluster_falls_back_to_listing_local_state(tmp_path):
    from include import config
    from include.flink_jobs.common.state import latest_state

    cfg = {
        **config.resolve(),
        "FLINK_CHECKPOINTS_URI": f"file://{tmp_path}/cp",
        "FLINK_SAVEPOINTS_URI": f"file://{tmp_path}/sp",
    }
    assert latest_state("job_x", cfg, client=_ClusterWithoutHistory()) is None
    chk = tmp_path / "cp" / "job_x" / "abc" / "chk-7"
    chk.mkdir(parents=True)
    (chk / "_metadata").write_bytes(b"x")
    assert latest_state("job_x", cfg, client=_ClusterWithoutHistory()) == f"file://{chk}"
