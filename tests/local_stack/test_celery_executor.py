"""Airflow on the CeleryExecutor: the daily ETL and the replay run on a Celery worker.

For this test the stack's Airflow (LocalExecutor) stops; its four processes and one Celery worker
start from the same settings with AIRFLOW_EXECUTOR=CeleryExecutor, through local_stack/bin/run.sh,
as `make up` starts them with that setting (Redis is the broker, Airflow's database the result
backend). The daily ETL hands its Parquet through a store apart from the extract's own directory
(BATCH_HANDOFF_URI), as workers on several hosts need. Afterwards the stack's own Airflow is back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from airflow_logs_support import task_log
from confluent_kafka.admin import NewTopic
from marts_support import assert_marts_equal, cleanup, expected_events, expected_marts, snapshot

from include import config
from include.ingest.generator import generate

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.restarts_stack]

REPO = Path(__file__).resolve().parents[2]
DAY = date(2013, 1, 11)  # loaded by no other test
INPUT_DIR = config.data_dir() / "raw" / "celery_tests"  # under INGEST_FILE_ROOTS


def _supervisorctl(cfg: dict[str, str], *args: str) -> None:
    conf = Path(cfg["DATA_DIR"]) / "run/conf/supervisord.conf"
    subprocess.run(
        [str(REPO / ".venvs/airflow/bin/supervisorctl"), "-c", str(conf), *args],
        check=True,
        timeout=120,
        capture_output=True,
    )


def _healthy(cfg: dict[str, str]) -> bool:
    try:
        health = requests.get(f"{cfg['AIRFLOW_URL']}/api/v2/monitor/health", timeout=5).json()
    except (requests.RequestException, ValueError):
        return False
    return all(part.get("status") == "healthy" for part in health.values() if isinstance(part, dict))


@pytest.fixture
def celery_airflow(cfg: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Path]]:
    """The stack's Airflow swapped for the same on the CeleryExecutor; yields its log files."""
    handoff = tmp_path / "handoff"
    env = {**os.environ, "AIRFLOW_EXECUTOR": "CeleryExecutor", "BATCH_HANDOFF_URI": handoff.as_uri()}
    airflow_bin = str(REPO / ".venvs/airflow/bin/airflow")
    commands = {
        "api-server": [
            "api-server",
            "--host",
            cfg["BIND_HOST"],
            "--port",
            cfg["AIRFLOW_PORT"],
            "--workers",
            "1",
        ],
        "scheduler": ["scheduler", "--skip-serve-logs"],
        "dag-processor": ["dag-processor"],
        "triggerer": ["triggerer", "--skip-serve-logs"],
        "celery-worker": ["celery", "worker", "--skip-serve-logs"],
    }
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    processes: list[subprocess.Popen[bytes]] = []
    _supervisorctl(cfg, "stop", "airflow:*")
    try:
        for name, args in commands.items():
            with logs[name].open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [str(REPO / "local_stack/bin/run.sh"), airflow_bin, *args],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + 180
        while not _healthy(cfg):
            assert time.monotonic() < deadline, "Airflow on Celery did not become healthy in 180 s"
            assert all(p.poll() is None for p in processes), {n: logs[n].read_text()[-800:] for n in logs}
            time.sleep(2)
        yield {"handoff": handoff, **logs}
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(30)
        _supervisorctl(cfg, "start", "airflow:*")
        deadline = time.monotonic() + 180
        while not _healthy(cfg) and time.monotonic() < deadline:
            time.sleep(2)


def test_the_daily_etl_and_the_replay_run_on_a_celery_worker(
    celery_airflow: dict[str, Path], bootstrapped: Any, airflow: Any, cfg: dict[str, str], kafka_admin: Any
) -> None:
    INPUT_DIR.mkdir(parents=True, exist_ok=True)
    day_file = INPUT_DIR / f"celery_{uuid.uuid4().hex[:8]}.csv"
    generate(day_file, 8_000, "13011100", 24, seed=11, progress=False)
    replay_file = INPUT_DIR / f"celery_replay_{uuid.uuid4().hex[:8]}.csv"
    replayed = dict(generate(replay_file, 3_000, "14102500", 2, seed=12, progress=False).hours)
    topic = f"scratch_raw_celery_test_{uuid.uuid4().hex[:8]}"
    kafka_admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(timeout=30)
    cleanup([DAY])
    try:
        etl_id, etl_state = airflow.run_and_wait(
            "dag_daily_etl", {"source": "avazu", "file": str(day_file), "day": DAY.isoformat()}, timeout=900
        )
        replay_id, replay_state = airflow.run_and_wait(
            "dag_avazu_replay",
            {"file": str(replay_file), "from_hour": "14102500", "to_hour": "14102501", "topic": topic},
            timeout=600,
        )
        assert etl_state == "success", task_log(cfg, "dag_daily_etl", etl_id, "extract")[-2000:]
        assert replay_state == "success", task_log(cfg, "dag_avazu_replay", replay_id, "replay")[-2000:]
        assert_marts_equal(snapshot(DAY), expected_marts(expected_events(day_file, DAY), DAY))
        report = airflow.xcom("dag_avazu_replay", replay_id, "replay")
        assert report["ok"] and report["published"] == sum(replayed.values())

        # Every task of both runs went through the Celery worker, none through a LocalExecutor.
        executed = [
            line
            for line in celery_airflow["celery-worker"].read_text().splitlines()
            if "Executing workload" in line
        ]
        runs = {
            "dag_daily_etl": (etl_id, {"extract", "validate", "load", "dbt_build", "check_marts"}),
            "dag_avazu_replay": (replay_id, {"validate", "replay"}),
        }
        for dag_id, (run_id, essential) in runs.items():
            ran = [ti["task_id"] for ti in airflow.task_instances(dag_id, run_id) if ti["state"] == "success"]
            assert essential <= set(ran), (dag_id, ran)
            for task_id in ran:
                where = f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/"
                assert any(where in line for line in executed), f"{where} did not run on the Celery worker"
        # validate and load read the day from the hand-off store; the extracting worker kept nothing.
        handed = airflow.xcom("dag_daily_etl", etl_id, "extract")["parquet_path"]
        assert handed == f"{celery_airflow['handoff'].as_uri()}/dt={DAY.isoformat()}/events.parquet"
        assert (celery_airflow["handoff"] / f"dt={DAY.isoformat()}/events.parquet").exists()
        assert not (config.data_dir() / f"processed/parquet/dt={DAY.isoformat()}/events.parquet").exists()
    finally:
        cleanup([DAY])
        kafka_admin.delete_topics([topic])
        day_file.unlink(missing_ok=True)
        replay_file.unlink(missing_ok=True)
