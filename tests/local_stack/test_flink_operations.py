"""The streaming job operated as in production, checked against the oracle after every disruption.

- a TaskManager killed (kill -9) mid-replay: Flink recovers by itself from the last checkpoint;
- the deployed job stopped with a savepoint and resubmitted through Airflow (`dag_flink_savepoint`)
  between two replays, with windows still open in its state;
- the deployed job cancelled behind Airflow's back: `dag_flink_health` resubmits it and Slack
  hears about it once.

The last two use the real deployment (`ad_window_metrics` on `ad_events_raw`) and hours past every
window it has written, so earlier replays cannot touch the windows compared.
"""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from stack_support import supervisorctl
from window_metrics_support import (
    isolated_run,
    jobs_named,
    replay_with_disruption,
    wait_for,
    wait_running,
)

from include.demo import next_free_hour, wait_for_windows
from include.flink_jobs.ad_window_metrics import oracle
from include.ingest.generator import generate
from include.ingest.producer import ReplayOptions, replay

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AVAZU_ERA = datetime(2014, 10, 21, tzinfo=UTC)


def _taskmanagers(cfg: dict[str, str]) -> int:
    return len(requests.get(f"{cfg['FLINK_REST_URL']}/taskmanagers", timeout=10).json()["taskmanagers"])


def _running(cfg: dict[str, str], name: str) -> list[str]:
    return jobs_named(cfg, name, states=("RUNNING",))


def _slack_messages(cfg: dict[str, str], since: str, needle: str) -> list[str]:
    sink = f"http://{cfg['BIND_HOST']}:{cfg['SLACK_SINK_PORT']}/messages"
    texts = [
        json.dumps(m["payload"]) for m in requests.get(sink, timeout=5).json() if m["received_at"] >= since
    ]
    return [t for t in texts if needle in t]


def _windows_of(path: Path) -> dict[Any, Any]:
    return oracle.compute_file(path)


def test_taskmanager_killed_mid_replay_recovers_and_equals_the_oracle(
    bootstrapped, cfg, kafka_admin, pg_owner, tmp_path
):
    path = tmp_path / "tm_kill.csv"
    generate(path, 40_000, "14102500", 2, seed=77, progress=False)

    def kill_taskmanager(job_id: str) -> None:
        pid = int(supervisorctl(cfg, "pid", "flink-taskmanager"))
        os.kill(pid, signal.SIGKILL)
        # supervisord starts a new TaskManager; the job restarts on it from its last checkpoint.
        wait_for(
            lambda: int(supervisorctl(cfg, "pid", "flink-taskmanager") or 0) not in (0, pid), 60, "a new TM"
        )
        wait_for(lambda: _taskmanagers(cfg) >= 1, 120, "the new TaskManager to register")
        wait_running(cfg, job_id, timeout=240)

    with isolated_run(cfg, kafka_admin, pg_owner) as run:
        replay_with_disruption(cfg, pg_owner, run, path, kill_taskmanager, after_checkpoints=1, timeout=420)
    # The deployed job went through the same crash: it is back without anyone's help.
    wait_for(lambda: _running(cfg, cfg["FLINK_JOB_NAME"]), 240, "the deployed job to run again")


def test_savepoint_and_redeploy_through_airflow_between_replays_equals_the_oracle(
    bootstrapped, airflow, cfg, tmp_path
):
    name = cfg["FLINK_JOB_NAME"]
    wait_for(lambda: _running(cfg, name), 240, "the deployed job")
    start = next_free_hour(cfg, AVAZU_ERA)
    first, second = start.strftime("%y%m%d%H"), (start + timedelta(hours=1)).strftime("%y%m%d%H")
    path = tmp_path / "savepoint.csv"
    generate(path, 30_000, first, 2, seed=31, progress=False)

    # Hour 1 without the end-of-input markers: its last windows are still open in the job's state.
    a = replay(
        ReplayOptions(file=path, hour_from=first, hour_to=first, end_of_input=False, pushgateway_url="")
    )
    assert a.ok and a.published > 0
    before = _running(cfg, name)
    run_id, state = airflow.run_and_wait("dag_flink_savepoint", timeout=600)
    assert state == "success", f"dag_flink_savepoint {run_id} ended {state}"
    savepoint = airflow.xcom("dag_flink_savepoint", run_id, "stop_with_savepoint")
    assert savepoint and "savepoint" in savepoint
    after = _running(cfg, name)
    assert len(after) == 1 and after != before, (before, after)

    b = replay(ReplayOptions(file=path, hour_from=second, hour_to=second, pushgateway_url=""))
    assert b.ok and b.published > 0
    wait_for_windows(_windows_of(path), timeout_s=300)


def test_health_dag_resubmits_a_cancelled_job_and_tells_slack_once(bootstrapped, airflow, cfg):
    name = cfg["FLINK_JOB_NAME"]
    wait_for(lambda: _running(cfg, name), 240, "the deployed job")
    # A checkpoint after any earlier test's replay, so the resubmitted job resumes from recent state.
    time.sleep(12)
    (job_id,) = _running(cfg, name)
    since = datetime.now(UTC).isoformat()
    requests.patch(f"{cfg['FLINK_REST_URL']}/jobs/{job_id}?mode=cancel", timeout=10).raise_for_status()
    wait_for(lambda: not _running(cfg, name), 60, "the cancellation")

    run_id, state = airflow.run_and_wait("dag_flink_health", timeout=600)
    assert state == "success", f"dag_flink_health {run_id} ended {state}"
    (new_id,) = wait_for(lambda: _running(cfg, name), 60, "the resubmitted job")
    assert new_id != job_id
    time.sleep(3)  # the sink records asynchronously
    messages = _slack_messages(cfg, since, f"Flink job `{name}`")
    assert len(messages) == 1, messages
    assert "resubmitted" in messages[0] and new_id in messages[0] and "resumed from" in messages[0]
