"""Driving the local stack's processes from a test: supervisorctl, and Airflow swapped for one on Celery."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_START_S = 180


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports nothing listens on at this moment (the OS picks them)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def sasl_ssl_kafka_connection(cfg: Mapping[str, str]) -> str:
    """AIRFLOW_CONN_KAFKA_DEFAULT for the local broker's SASL_SSL listener (SCRAM, the stack's CA)."""
    extra = {
        "bootstrap.servers": f"{cfg['BIND_HOST']}:{cfg['KAFKA_SASL_SSL_PORT']}",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": cfg["KAFKA_LOCAL_SASL_USERNAME"],
        "sasl.password": cfg["KAFKA_LOCAL_SASL_PASSWORD"],
        "ssl.ca.location": f"{cfg['DATA_DIR']}/tls/kafka/ca.crt",
    }
    return json.dumps({"conn_type": "kafka", "extra": extra})


def supervisorctl(cfg: Mapping[str, str], *args: str, timeout: float = 120) -> str:
    """Runs ``supervisorctl`` against the stack's supervisord; its output (raises if it fails)."""
    conf = Path(cfg["DATA_DIR"]) / "run/conf/supervisord.conf"
    return subprocess.run(
        [str(REPO / ".venvs/airflow/bin/supervisorctl"), "-c", str(conf), *args],
        check=True,
        timeout=timeout,
        capture_output=True,
        text=True,
    ).stdout.strip()


def airflow_healthy(cfg: Mapping[str, str]) -> bool:
    """Airflow's health endpoint answers and every part it reports is healthy."""
    try:
        health = requests.get(f"{cfg['AIRFLOW_URL']}/api/v2/monitor/health", timeout=5).json()
    except (requests.RequestException, ValueError):
        return False
    return all(part.get("status") == "healthy" for part in health.values() if isinstance(part, dict))


def _celery_commands(cfg: Mapping[str, str]) -> dict[str, list[str]]:
    return {
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


@contextlib.contextmanager
def airflow_on_celery(
    cfg: Mapping[str, str], workdir: Path, settings: Mapping[str, str] | None = None
) -> Iterator[dict[str, Path]]:
    """The stack's Airflow (LocalExecutor) swapped for the same processes on the CeleryExecutor plus
    one worker, started through local_stack/bin/run.sh as `make up` would with AIRFLOW_EXECUTOR set,
    with ``settings`` laid over the environment (settings or AIRFLOW_CONN_* values). Yields each
    process's log file; afterwards the stack's own Airflow is started again.
    """
    # Connections are derived again from the settings, unless ``settings`` names one itself.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env = {**inherited, "AIRFLOW_EXECUTOR": "CeleryExecutor", **(settings or {})}
    airflow_bin = str(REPO / ".venvs/airflow/bin/airflow")
    commands = _celery_commands(cfg)
    workdir.mkdir(parents=True, exist_ok=True)
    logs = {name: workdir / f"{name}.log" for name in commands}
    processes: list[subprocess.Popen[bytes]] = []
    supervisorctl(cfg, "stop", "airflow:*")
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
        deadline = time.monotonic() + AIRFLOW_START_S
        while not airflow_healthy(cfg):
            assert (
                time.monotonic() < deadline
            ), f"Airflow on Celery did not become healthy in {AIRFLOW_START_S} s"
            assert all(p.poll() is None for p in processes), {n: logs[n].read_text()[-800:] for n in logs}
            time.sleep(2)
        yield logs
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
        supervisorctl(cfg, "start", "airflow:*")
        deadline = time.monotonic() + AIRFLOW_START_S
        while not airflow_healthy(cfg) and time.monotonic() < deadline:
            time.sleep(2)


def not_run_on_the_worker(worker_log: Path, dag_id: str, run_id: str, task_ids: list[str]) -> list[str]:
    """Those of ``task_ids`` the Celery worker's log does not show it executing for that run."""
    executed = [line for line in worker_log.read_text().splitlines() if "Executing workload" in line]
    return [
        task_id
        for task_id in task_ids
        if not any(f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/" in line for line in executed)
    ]
