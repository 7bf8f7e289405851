"""Faults for ``make fullrun ARGS="--days 2 --chaos"``: the full path must survive them.

Four faults, each once, at a random moment (seeded) of the stage where it hurts:

================== ======== ===================================================================
fault              stage    recovered when
================== ======== ===================================================================
taskmanager_killed stream   ``kill -9`` of the TaskManager (supervisord starts a new one); the
                            streaming job is RUNNING again and completed a checkpoint after it
broker_restarted   stream   ``supervisorctl restart kafka``; the broker lists its topics and the
                            job completed a checkpoint after the restart
postgres_restarted etl      ``supervisorctl restart postgres``; PostgreSQL answers a query
scheduler_killed   etl      ``kill -9`` of the Airflow scheduler; Airflow's health endpoint shows
                            a scheduler heartbeat after the kill
================== ======== ===================================================================

A fault fires when its stage has done a random share (15-60%) of its work, from the progress the
full run reports (events through the job's watermark; days of the backfill, a running day
counting half). Its action and the wait for recovery run on their own thread, so the run's own
loops (which already tolerate a restarting job, broker, database or Airflow) go on meanwhile.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include import config
from include.kafka.client_conf import client_conf

REPO = Path(__file__).resolve().parent.parent
RECOVERY_TIMEOUT_S = 900.0
POLL_S = 1.0


@dataclass
class Fault:
    name: str
    stage: str
    at_fraction: float
    fired_at: float | None = None  # time.monotonic()
    record: dict[str, Any] = field(default_factory=dict)
    thread: threading.Thread | None = None


def _supervisorctl(cfg: dict[str, str], *args: str) -> str:
    conf = Path(cfg["DATA_DIR"]) / "run" / "conf" / "supervisord.conf"
    exe = REPO / ".venvs" / "airflow" / "bin" / "supervisorctl"
    done = subprocess.run([str(exe), "-c", str(conf), *args], capture_output=True, text=True, timeout=180)
    return (done.stdout + done.stderr).strip()


def _kill9(cfg: dict[str, str], program: str) -> str:
    pid = int(_supervisorctl(cfg, "pid", program))
    os.kill(pid, signal.SIGKILL)
    return f"kill -9 {program} (pid {pid})"


def _checkpoint_after(cfg: dict[str, str], since_ms: int) -> bool:
    """The streaming job runs and completed a checkpoint after ``since_ms`` (epoch ms)."""
    from bench import fullrun_stack as stack
    from include.flink_jobs.common.client import client_from

    job_id = stack.find_running_job(cfg)
    if job_id is None:
        return False
    info = client_from(cfg).checkpoints(job_id)
    return (info.latest_ack_ms or 0) > since_ms


def _broker_answers(cfg: dict[str, str]) -> bool:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(client_conf(cfg, extra={"log_level": 0}))
    return cfg["TOPIC_RAW"] in admin.list_topics(timeout=5).topics


def _postgres_answers(cfg: dict[str, str]) -> bool:
    import psycopg

    with psycopg.connect(config.pg_dsn("PG_DASHBOARD"), connect_timeout=5) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def _scheduler_beat_after(cfg: dict[str, str], since: datetime) -> bool:
    import requests

    health = requests.get(f"{cfg['AIRFLOW_URL']}/api/v2/monitor/health", timeout=5).json()
    scheduler = health.get("scheduler") or {}
    beat = scheduler.get("latest_scheduler_heartbeat")
    if scheduler.get("status") != "healthy" or not beat:
        return False
    return datetime.fromisoformat(beat.replace("Z", "+00:00")) > since


class Chaos:
    """Fires the four faults during the run and records what each cost."""

    def __init__(self, cfg: dict[str, str], seed: int, log: Callable[[str], None]) -> None:
        self.cfg, self.log = cfg, log
        rng = random.Random(seed)
        self.faults = [
            Fault("taskmanager_killed", "stream", rng.uniform(0.15, 0.6)),
            Fault("broker_restarted", "stream", rng.uniform(0.15, 0.6)),
            Fault("postgres_restarted", "etl", rng.uniform(0.15, 0.6)),
            Fault("scheduler_killed", "etl", rng.uniform(0.15, 0.6)),
        ]
        self.started = time.monotonic()

    def progress(self, stage: str, fraction: float) -> None:
        """Called by the run's loops: fires the faults of ``stage`` whose moment has come (one at a time)."""
        if any(f.thread and f.thread.is_alive() for f in self.faults):
            return  # one fault at a time: each recovery is measured on its own
        for fault in self.faults:
            if fault.stage == stage and fault.fired_at is None and fraction >= fault.at_fraction:
                fault.fired_at = time.monotonic()
                fault.thread = threading.Thread(target=self._inject, args=(fault,), daemon=True)
                fault.thread.start()
                return

    def _inject(self, fault: Fault) -> None:
        cfg = self.cfg
        now_ms = int(time.time() * 1000)
        now = datetime.now(UTC)
        actions: dict[str, tuple[Callable[[], str], Callable[[], bool]]] = {
            "taskmanager_killed": (
                lambda: _kill9(cfg, "flink-taskmanager"),
                lambda: _checkpoint_after(cfg, now_ms),
            ),
            "broker_restarted": (
                lambda: "supervisorctl restart kafka: " + _supervisorctl(cfg, "restart", "kafka"),
                lambda: _broker_answers(cfg) and _checkpoint_after(cfg, now_ms),
            ),
            "postgres_restarted": (
                lambda: "supervisorctl restart postgres: " + _supervisorctl(cfg, "restart", "postgres"),
                lambda: _postgres_answers(cfg),
            ),
            "scheduler_killed": (
                lambda: _kill9(cfg, "airflow:airflow-scheduler"),
                lambda: _scheduler_beat_after(cfg, now),
            ),
        }
        act, recovered = actions[fault.name]
        at_s = round(time.monotonic() - self.started, 1)
        self.log(
            f"    chaos: {fault.name} during {fault.stage} at {fault.at_fraction:.0%} of it ({at_s:,.0f} s after the replay started)"
        )
        record: dict[str, Any] = {"fault": fault.name, "stage": fault.stage, "at_s": at_s,
                                  "at_fraction": round(fault.at_fraction, 3), "at": now.isoformat(timespec="seconds")}  # fmt: skip
        fired = time.monotonic()  # recovery counts from the fault, a restart's own duration included
        try:
            record["action"] = act()
        except Exception as exc:  # the fault itself failed: recorded, never fatal to the run
            record.update(action_error=f"{type(exc).__name__}: {exc}", recovered=False, recovery_s=None)
            fault.record.update(record)
            self.log(f"    chaos: {fault.name} could not be injected: {record['action_error']}")
            return
        while time.monotonic() - fired < RECOVERY_TIMEOUT_S:
            try:
                if recovered():
                    break
            except Exception:  # still down: that is the point
                pass
            time.sleep(POLL_S)
        else:
            record.update(recovered=False, recovery_s=None)
            fault.record.update(record)
            self.log(f"    chaos: {fault.name} NOT recovered within {RECOVERY_TIMEOUT_S:.0f} s")
            return
        record.update(recovered=True, recovery_s=round(time.monotonic() - fired, 1))
        fault.record.update(record)
        self.log(f"    chaos: {fault.name} recovered in {record['recovery_s']} s")

    def finish_stage(self, stage: str) -> None:
        """The stage ended: its faults that never found their moment (a short run, a long recovery)
        fire now, one after the other, and say so (``after_stage``)."""
        for fault in self.faults:
            if fault.stage == stage and fault.fired_at is None:
                self.wait()
                fault.at_fraction = 1.0
                self.progress(stage, 1.0)
                fault.record["after_stage"] = True
        self.wait()

    def wait(self, timeout: float = RECOVERY_TIMEOUT_S) -> None:
        for fault in self.faults:
            if fault.thread is not None:
                fault.thread.join(timeout)

    def results(self) -> list[dict[str, Any]]:
        """One entry per fault; a fault whose stage ended before its moment is recorded as not fired."""
        out = []
        for fault in self.faults:
            if fault.fired_at is None:
                out.append({"fault": fault.name, "stage": fault.stage, "fired": False, "recovered": False,
                            "recovery_s": None})  # fmt: skip
            else:
                out.append({"fired": True, **fault.record})
        return out


def alerts_since(cfg: dict[str, str], since: datetime, job_name: str) -> dict[str, dict[str, Any]]:
    """Alerts Slack received since ``since`` (the local sink's record), by alert name: how many
    FIRING messages, whether a RESOLVED line followed. Alerts about other Flink jobs (tests,
    benchmarks) are left out."""
    import requests

    url = f"http://{cfg['BIND_HOST']}:{cfg['SLACK_SINK_PORT']}/messages"
    messages = requests.get(url, timeout=10).json()
    alerts: dict[str, dict[str, Any]] = {}
    for message in messages:
        if datetime.fromisoformat(message["received_at"]) < since:
            continue
        for attachment in (message.get("payload") or {}).get("attachments") or []:
            title, text = attachment.get("title") or "", attachment.get("text") or ""
            status, _, name = title.partition(": ")
            lines = text.splitlines()
            ours = [line for line in lines if "RESOLVED" not in line and _about(line, job_name)]
            if status == "FIRING" and ours:
                alerts.setdefault(name, {"firing_messages": 0, "resolved": False})["firing_messages"] += 1
            for line in lines:
                if "RESOLVED" in line and _about(line, job_name):
                    resolved = line.split("UTC: ", 1)[-1].split()[0]
                    if resolved in alerts:
                        alerts[resolved]["resolved"] = True
    return alerts


def _about(line: str, job_name: str) -> bool:
    """Whether an alert line concerns the deployed pipeline (not a test's or a benchmark's job)."""
    return ("job" not in line.lower()) or job_name in line
