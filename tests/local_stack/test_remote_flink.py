"""The streaming job on a Flink cluster reached only through its REST address.

A second session cluster (second_flink_cluster.py) shares nothing with this checkout but its REST
address: its own PyFlink, jars, configuration, checkpoint and savepoint directories and ports.
Settings alone point the pipeline at it (FLINK_REST_URL, FLINK_PYTHON_EXECUTABLE and the state
URIs, as an operator would for a remote cluster) and the product's `submit` and `latest_state` do
the rest. Mid-replay its TaskManager is killed (kill -9 of the process group, no supervisor brings
it back) and a new one started: Flink recovers the job from its last checkpoint. Then the job is
cancelled and resubmitted the way dag_flink_health does, from the newest checkpoint the cluster's
REST API reports. The windows must still equal the oracle.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests
from second_flink_cluster import second_flink_cluster
from window_metrics_support import (
    JOB,
    cancel_job,
    completed_checkpoints,
    isolated_run,
    replay_with_disruption,
    wait_for,
    wait_running,
)

from include import config
from include.flink_jobs.common.client import client_from
from include.flink_jobs.common.state import latest_state
from include.flink_jobs.common.submit import JobSpec, submit
from include.ingest.generator import generate

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _checkpoint_answer(rest_url: str, job_id: str) -> dict:
    return requests.get(f"{rest_url}/jobs/{job_id}/checkpoints", timeout=10).json()


def test_a_cluster_known_only_by_its_rest_address_survives_a_taskmanager_crash_and_a_resubmission(
    cfg, kafka_admin, pg_owner, tmp_path, monkeypatch
):
    path = tmp_path / "remote.csv"
    generate(path, 30_000, "14102600", 2, seed=23, progress=False)
    with second_flink_cluster(cfg, tmp_path / "cluster") as cluster:
        # The cluster's own copy of the PostgreSQL CA, where its image would keep it.
        ca = cluster.root / "pg-ca.crt"
        shutil.copyfile(cfg["PG_SSLROOTCERT"], ca)
        for name, value in {
            "FLINK_REST_URL": cluster.rest_url,
            "FLINK_PYTHON_EXECUTABLE": cluster.python,
            "FLINK_CHECKPOINTS_URI": cluster.checkpoints_uri,
            "FLINK_SAVEPOINTS_URI": cluster.savepoints_uri,
        }.items():
            monkeypatch.setenv(name, value)
        remote = config.resolve()
        assert remote["FLINK_REST_URL"] != cfg["FLINK_REST_URL"]
        jdbc_url = config.pg_jdbc_url({**remote, "PG_SSLROOTCERT": str(ca)})
        restored: list[str] = []

        def submit_remote(args: list[str], restore_from: str | None = None) -> str:
            name = args[args.index("--pipeline-name") + 1]
            spec = JobSpec(name, JOB, (*args, "--jdbc-url", jdbc_url))
            return submit(spec, restore_from=restore_from)

        with isolated_run(remote, kafka_admin, pg_owner) as run:

            def crash_then_resubmit(job_id: str) -> None:
                job_conf = requests.get(
                    f"{cluster.rest_url}/jobs/{job_id}/jobmanager/config", timeout=10
                ).json()
                assert {"key": "python.executable", "value": cluster.python} in job_conf, job_conf
                cluster.kill_taskmanager()
                cluster.start_taskmanager()
                wait_running(remote, job_id)  # Flink's own recovery, on the new TaskManager
                done = completed_checkpoints(remote, job_id)
                wait_for(
                    lambda: completed_checkpoints(remote, job_id) > done, 120, "a checkpoint after recovery"
                )
                cancel_job(remote, job_id)  # retained on cancellation
                newest = latest_state(run.job_name, remote, client_from(remote))
                reported = _checkpoint_answer(remote["FLINK_REST_URL"], job_id)["latest"]["completed"]
                assert newest == reported["external_path"], (newest, reported)
                assert newest.startswith(cluster.checkpoints_uri.replace("file:///", "file:/")), newest
                new_id = submit_remote(run.job_args(), restore_from=newest)
                wait_running(remote, new_id)
                answer = _checkpoint_answer(remote["FLINK_REST_URL"], new_id)
                restored.append(answer["latest"]["restored"]["external_path"])
                assert restored[-1] == newest

            replay_with_disruption(
                remote,
                pg_owner,
                run,
                path,
                crash_then_resubmit,
                after_checkpoints=1,
                timeout=420,
                submit=submit_remote,
            )
    assert len(restored) == 1
    assert not Path(
        cfg["FLINK_CHECKPOINTS_URI"].removeprefix("file://"), run.job_name
    ).exists(), "the job wrote checkpoints into this machine's local cluster directory"
