"""The pipeline on clusters it does not run itself, selected by settings only.

A second Flink session cluster (second_flink_cluster.py) shares nothing with this checkout but its
REST address: its own PyFlink, jars, configuration, checkpoint and savepoint directories and ports.

1. Settings alone point the streaming job at it (FLINK_REST_URL, FLINK_PYTHON_EXECUTABLE and the state
   URIs, as an operator would for a remote cluster). Mid-replay its TaskManager is killed (kill -9 of
   the process group, no supervisor brings it back) and a new one started: Flink recovers the job
   from its last checkpoint. Then the job is cancelled and resubmitted the way dag_flink_health does,
   from the newest checkpoint the cluster's REST API reports. The windows must still equal the oracle.
2. `make demo`'s path with everything remote at once: Kafka only through the broker's SASL_SSL
   listener, PostgreSQL only with sslmode=verify-full, Flink only through the second cluster's REST
   address, and Airflow on the CeleryExecutor (its own processes and a worker, in place of the
   stack's). Kafka is named only by Airflow's ``kafka_default`` connection: the Kafka settings point
   at a closed port, so topic creation, the replay and the job's submission reach the broker only if
   they follow the connection.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from airflow_logs_support import task_log
from demo_support import run_demo
from second_flink_cluster import SecondCluster, second_flink_cluster
from stack_support import airflow_on_celery, free_ports, not_run_on_the_worker, sasl_ssl_kafka_connection
from window_metrics_support import (
    JOB,
    cancel_job,
    completed_checkpoints,
    isolated_run,
    jobs_named,
    replay_with_disruption,
    wait_for,
    wait_running,
)

from include import config
from include.flink_jobs.common.client import client_from
from include.flink_jobs.common.state import latest_state
from include.flink_jobs.common.submit import JobSpec, submit
from include.ingest.generator import generate

# Module-wide, so the two tests share one cluster and run one after the other, after the suite's
# other tests (the second swaps the stack's Airflow out for a while).
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.restarts_stack]


@pytest.fixture(scope="module")
def cluster(cfg: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecondCluster]:
    with second_flink_cluster(cfg, tmp_path_factory.mktemp("second_flink")) as started:
        # The cluster's own copy of the PostgreSQL CA, where its image would keep it.
        shutil.copyfile(cfg["PG_SSLROOTCERT"], started.root / "pg-ca.crt")
        yield started


def _remote_flink_settings(cluster: SecondCluster) -> dict[str, str]:
    return {
        "FLINK_REST_URL": cluster.rest_url,
        "FLINK_PYTHON_EXECUTABLE": cluster.python,
        "FLINK_CHECKPOINTS_URI": cluster.checkpoints_uri,
        "FLINK_SAVEPOINTS_URI": cluster.savepoints_uri,
    }


def _checkpoint_answer(rest_url: str, job_id: str) -> dict:
    return requests.get(f"{rest_url}/jobs/{job_id}/checkpoints", timeout=10).json()


def _job_config(rest_url: str, job_id: str) -> list[dict[str, str]]:
    return requests.get(f"{rest_url}/jobs/{job_id}/jobmanager/config", timeout=10).json()


def test_a_cluster_known_only_by_its_rest_address_survives_a_taskmanager_crash_and_a_resubmission(
    cfg, cluster, kafka_admin, pg_owner, tmp_path, monkeypatch
):
    path = tmp_path / "remote.csv"
    generate(path, 30_000, "14102600", 2, seed=23, progress=False)
    for name, value in _remote_flink_settings(cluster).items():
        monkeypatch.setenv(name, value)
    remote = config.resolve()
    assert remote["FLINK_REST_URL"] != cfg["FLINK_REST_URL"]
    jdbc_url = config.pg_jdbc_url({**remote, "PG_SSLROOTCERT": str(cluster.root / "pg-ca.crt")})
    restored: list[str] = []

    def submit_remote(args: list[str], restore_from: str | None = None) -> str:
        name = args[args.index("--pipeline-name") + 1]
        spec = JobSpec(name, JOB, (*args, "--jdbc-url", jdbc_url))
        return submit(spec, restore_from=restore_from)

    with isolated_run(remote, kafka_admin, pg_owner) as run:

        def crash_then_resubmit(job_id: str) -> None:
            job_conf = _job_config(cluster.rest_url, job_id)
            assert {"key": "python.executable", "value": cluster.python} in job_conf, job_conf
            cluster.kill_taskmanager()
            cluster.start_taskmanager()
            wait_running(remote, job_id)  # Flink's own recovery, on the new TaskManager
            done = completed_checkpoints(remote, job_id)
            wait_for(lambda: completed_checkpoints(remote, job_id) > done, 120, "a checkpoint after recovery")
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


def test_the_demo_path_on_sasl_kafka_verified_postgres_a_remote_flink_and_celery(
    cfg, cluster, bootstrapped, airflow, kafka_admin, tmp_path
):
    token = uuid.uuid4().hex[:8]
    sasl = f"{cfg['BIND_HOST']}:{cfg['KAFKA_SASL_SSL_PORT']}"
    nowhere = f"{cfg['BIND_HOST']}:{free_ports(1)[0]}"  # nothing listens there
    handoff = tmp_path / "handoff"
    settings = {
        **_remote_flink_settings(cluster),
        "AIRFLOW_CONN_KAFKA_DEFAULT": sasl_ssl_kafka_connection(cfg),
        "KAFKA_BOOTSTRAP_SERVERS": nowhere,
        "PG_SSLMODE": "verify-full",
        "PG_SSLROOTCERT": str(cluster.root / "pg-ca.crt"),
        # A pipeline of its own on the shared broker: its topics and job, created by the bootstrap.
        "TOPIC_RAW": f"scratch_raw_remote_{token}",
        "TOPIC_DLQ": f"scratch_dlq_remote_{token}",
        "FLINK_JOB_NAME": f"ad_window_metrics_remote_{token}",
        "BATCH_HANDOFF_URI": handoff.as_uri(),
    }
    remote = config.resolve({**config.read_env_file(), **os.environ, **settings})
    try:
        with airflow_on_celery(cfg, tmp_path / "airflow", settings) as logs:
            report = run_demo(env={**os.environ, **settings})

            # Flink: the job runs on the second cluster, with its Python; none of it on the local one.
            (job_id,) = jobs_named(remote, settings["FLINK_JOB_NAME"], states=("RUNNING",))
            job_conf = _job_config(cluster.rest_url, job_id)
            assert {"key": "python.executable", "value": cluster.python} in job_conf, job_conf
            assert not jobs_named(cfg, settings["FLINK_JOB_NAME"])

            # Kafka: topic creation, the replay and the job's submission took the connection's listener.
            runs = report.run_ids
            assert set(runs) == {"dag_platform_bootstrap", "dag_avazu_replay", "dag_daily_etl"}, runs
            runs["dag_flink_deploy"] = airflow.xcom(
                "dag_platform_bootstrap",
                runs["dag_platform_bootstrap"],
                "deploy_streaming_job",
                "trigger_run_id",
            )
            followed = f"setting from an Airflow connection: KAFKA_BOOTSTRAP_SERVERS '{nowhere}' -> '{sasl}'"
            for dag_id, task_id in (
                ("dag_platform_bootstrap", "create_kafka_topics"),
                ("dag_flink_deploy", "submit_job"),
                ("dag_avazu_replay", "replay"),
            ):
                assert followed in task_log(cfg, dag_id, runs[dag_id], task_id), (dag_id, task_id)
            topics = kafka_admin.list_topics(timeout=30).topics
            assert {settings["TOPIC_RAW"], settings["TOPIC_DLQ"]} <= set(topics)

            # Celery: every task of the four runs went through the worker.
            for dag_id, run_id in runs.items():
                ran = [
                    t["task_id"] for t in airflow.task_instances(dag_id, run_id) if t["state"] == "success"
                ]
                assert ran, dag_id
                assert not not_run_on_the_worker(logs["celery-worker"], dag_id, run_id, ran), dag_id
            # The day's Parquet went through the hand-off store, not the extract's own directory.
            handed = airflow.xcom("dag_daily_etl", runs["dag_daily_etl"], "extract")["parquet_path"]
            assert handed == f"{handoff.as_uri()}/dt={report.marts_day.isoformat()}/events.parquet"
    finally:
        for job_id in jobs_named(remote, settings["FLINK_JOB_NAME"], states=("RUNNING", "RESTARTING")):
            cancel_job(remote, job_id)
        kafka_admin.delete_topics([settings["TOPIC_RAW"], settings["TOPIC_DLQ"]])
