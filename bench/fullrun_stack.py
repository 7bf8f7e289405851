"""What the full run asks of the running stack: health, the job's progress, Kafka offsets and
records, and the daily ETL's backfill through Airflow's REST API. Every failure a user can fix is a
:class:`UserError` with a one-line message."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from include import config
from include.ingest.end_of_input import HEARTBEAT_HEADER
from include.kafka.client_conf import client_conf

ETL_DAG = "dag_daily_etl"


class AirflowUnavailable(OSError):
    """Airflow's API answered with a server error (it is starting or restarting)."""


# Errors of a moment (a restarting api-server; requests' errors are OSErrors): polling retries them.
TRANSIENT: tuple[type[Exception], ...] = (OSError,)
TERMINAL = ("success", "failed")


class UserError(Exception):
    """Something the user can fix (arguments, input, the stack's state); printed without a traceback."""


class RunAborted(Exception):
    """The run cannot be measured any more (the stack changed under it); the message says why."""


def _stack_down(what: str, exc: BaseException) -> UserError:
    return UserError(
        f"{what} is not reachable ({str(exc).splitlines()[0][:160]}): is the stack up? run make up"
    )


def preflight(cfg: dict[str, str]) -> None:
    """Each service the run needs answers (the essentials of ``make status``)."""
    from pathlib import Path

    import psycopg
    import requests
    from confluent_kafka.admin import AdminClient

    from bench.fullrun_resources import supervised_programs

    try:
        supervised_programs(Path(cfg["DATA_DIR"]) / "run")
    except OSError as exc:
        # The memory of each component is found through supervisord, as make memory does.
        raise _stack_down("supervisord", exc) from None

    try:
        with psycopg.connect(config.pg_dsn("PG_DASHBOARD"), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        if "authentication failed" in str(exc):
            raise UserError(
                f"PostgreSQL on {cfg['PG_HOST']}:{cfg['PG_PORT']} refused the dashboard login of .env "
                "(password authentication failed): is it this checkout's stack? check make status"
            ) from None
        if any(sign in str(exc) for sign in ("no encryption", "certificate", "SSL", "sslrootcert")):
            from include.db.connection_errors import explain

            raise UserError(explain(exc, cfg)) from None
        raise _stack_down("PostgreSQL", exc) from None
    try:
        admin = AdminClient(client_conf(cfg, extra={"socket.timeout.ms": 5000}))
        topics = admin.list_topics(timeout=10).topics
    except Exception as exc:
        raise _stack_down("Kafka", exc) from None
    if cfg["TOPIC_RAW"] not in topics:
        raise UserError(
            f"topic {cfg['TOPIC_RAW']} does not exist: run make demo (its bootstrap DAG creates it)"
        )
    try:
        health = requests.get(f"{cfg['AIRFLOW_URL']}/api/v2/monitor/health", timeout=10).json()
    except Exception as exc:
        raise _stack_down("Airflow", exc) from None
    unhealthy = [
        k for k, v in health.items() if isinstance(v, dict) and v.get("status") not in (None, "healthy")
    ]
    if unhealthy:
        raise UserError(f"Airflow reports {', '.join(unhealthy)} unhealthy: check make status")
    running_job_id(cfg)


def running_job_id(cfg: dict[str, str]) -> str:
    """The id of the deployed streaming job; UserError when it is not running."""
    job_id = find_running_job(cfg)
    if job_id is None:
        raise UserError(
            f"the streaming job {cfg['FLINK_JOB_NAME']} is not running: run make demo, or trigger "
            "dag_flink_deploy (make status shows the stack)"
        )
    return job_id


def find_running_job(cfg: dict[str, str]) -> str | None:
    """The RUNNING job called FLINK_JOB_NAME (ids change at each submission: found by name)."""
    from include.flink_jobs.common.client import client_from

    try:
        job = client_from(cfg).running_job(cfg["FLINK_JOB_NAME"])
    except Exception as exc:
        raise _stack_down("Flink", exc) from None
    return job.job_id if job else None


def watermark_ms(cfg: dict[str, str], job_id: str) -> int | None:
    """The job's newest event-time watermark (None before its first event)."""
    from include.flink_jobs.common.client import client_from

    return client_from(cfg).watermark_ms(job_id)


def newest_window_end(conn: Any) -> datetime | None:
    return conn.execute("SELECT max(window_end) FROM realtime.ad_window_metrics").fetchone()[0]


def first_free_day(reached: datetime | None, not_before: date) -> date:
    """The first whole UTC day nothing has reached yet (``not_before`` at the earliest).

    ``reached`` is the later of the job's watermark and the newest window end: an event at or
    behind the watermark would be late, and a day with windows would mix two runs.
    """
    if reached is None:
        return not_before
    day = reached.astimezone(UTC).date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    free = day if reached <= midnight else day + timedelta(days=1)
    return max(free, not_before)


def reached_time(cfg: dict[str, str], job_id: str, conn: Any) -> datetime | None:
    mark = watermark_ms(cfg, job_id)
    marks = [t for t in (newest_window_end(conn), mark and datetime.fromtimestamp(mark / 1000, UTC)) if t]
    return max(marks, default=None)


# -- Kafka -------------------------------------------------------------------------------------


def _consumer(cfg: dict[str, str]) -> Any:
    from confluent_kafka import Consumer

    return Consumer(
        client_conf(
            cfg,
            extra={
                "group.id": f"fullrun-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
                "fetch.max.bytes": 64 << 20,
                "max.partition.fetch.bytes": 16 << 20,
            },
        )
    )


def end_offsets(cfg: dict[str, str], topic: str) -> dict[int, int]:
    """Partition -> next offset to be written (the high watermark)."""
    from confluent_kafka import TopicPartition

    consumer = _consumer(cfg)
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    finally:
        consumer.close()


@dataclass
class TopicCount:
    records: int = 0  # records without the marker header: the events
    markers: int = 0
    seconds: float = 0.0


def count_records(
    cfg: dict[str, str],
    topic: str,
    start: dict[int, int],
    end: dict[int, int],
    on_progress: Callable[[int], None] | None = None,
) -> TopicCount:
    """Reads ``[start, end)`` of every partition and counts events and watermark markers apart."""
    from confluent_kafka import TopicPartition

    started = time.monotonic()
    todo = {p: (start.get(p, 0), e) for p, e in end.items() if e > start.get(p, 0)}
    count = TopicCount()
    if not todo:
        return count
    consumer = _consumer(cfg)
    try:
        consumer.assign([TopicPartition(topic, p, s) for p, (s, _e) in todo.items()])
        remaining = set(todo)
        idle_since = time.monotonic()
        while remaining:
            batch = consumer.consume(num_messages=20_000, timeout=1.0)
            if not batch:
                # Transaction markers take offsets no message is delivered for: ask where we are.
                positions = consumer.position([TopicPartition(topic, p) for p in remaining])
                remaining -= {tp.partition for tp in positions if tp.offset >= todo[tp.partition][1]}
                if remaining and time.monotonic() - idle_since > 60:
                    raise RuntimeError(f"no records from {topic} partitions {sorted(remaining)} for 60 s")
                continue
            idle_since = time.monotonic()
            for msg in batch:
                if msg.error():
                    raise RuntimeError(f"reading {topic}: {msg.error()}")
                p, offset = msg.partition(), msg.offset()
                if offset >= todo[p][1]:
                    remaining.discard(p)
                    continue
                headers = msg.headers()
                if headers and any(k == HEARTBEAT_HEADER for k, _ in headers):
                    count.markers += 1
                else:
                    count.records += 1
                if offset == todo[p][1] - 1:
                    remaining.discard(p)
            if on_progress:
                on_progress(count.records + count.markers)
    finally:
        consumer.close()
    count.seconds = time.monotonic() - started
    return count


# -- the streamed windows ----------------------------------------------------------------------


def all_window_counts(conn: Any, hour_start: datetime) -> dict[int, int]:
    """window size -> number of 'all' windows starting within the hour at ``hour_start``."""
    rows = conn.execute(
        "SELECT window_size_s, count(*) FROM realtime.ad_window_metrics WHERE dimension = 'all' "
        "AND window_start >= %s AND window_start < %s GROUP BY 1",
        (hour_start, hour_start + timedelta(hours=1)),
    ).fetchall()
    return {int(s): int(n) for s, n in rows}


def window_rows_of_days(conn: Any, first: date, last: date) -> int:
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    return conn.execute(
        "SELECT count(*) FROM realtime.ad_window_metrics WHERE window_start >= %s AND window_start < %s",
        (start, start + timedelta(days=(last - first).days + 1)),
    ).fetchone()[0]


# -- Airflow -----------------------------------------------------------------------------------


@dataclass
class Backfill:
    id: int
    first_day: date
    last_day: date
    created: float = field(default_factory=time.monotonic)


def airflow_client(cfg: dict[str, str], wait_s: float = 0.0) -> Any:
    """A logged-in REST client; waits up to ``wait_s`` for an api-server that is (re)starting."""
    from include.airflow_api import AirflowApiError, AirflowClient

    deadline = time.monotonic() + wait_s
    while True:
        try:
            return AirflowClient(cfg["AIRFLOW_URL"], cfg["AIRFLOW_ADMIN_USER"], cfg["AIRFLOW_ADMIN_PASSWORD"])
        except AirflowApiError as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:
            if time.monotonic() > deadline:
                raise _stack_down("Airflow", exc) from None
            time.sleep(5)


def start_backfill(client: Any, first_day: date, last_day: date, wait_s: float = 300.0) -> Backfill:
    """One backfill of dag_daily_etl for the days (runs for logical dates D+1 process D).

    Waits up to ``wait_s`` for an api-server that does not answer: a refused connection sent
    nothing, so asking again cannot create a second backfill.
    """
    from include.airflow_api import AirflowApiError

    body = {
        "dag_id": ETL_DAG,
        "from_date": f"{first_day + timedelta(days=1)}T00:00:00Z",
        "to_date": f"{last_day + timedelta(days=1)}T00:00:00Z",
        "dag_run_conf": {"source": "archive"},
        "max_active_runs": 1,
        "reprocess_behavior": "completed",
    }
    deadline = time.monotonic() + wait_s
    while True:
        try:
            client.wait_for_dag(ETL_DAG)
            client.unpause(ETL_DAG)
            created = client._call("POST", "/backfills", json=body)
            return Backfill(int(created["id"]), first_day, last_day)
        except AirflowApiError as exc:
            if " -> 5" not in str(exc):
                # 409: another backfill of the DAG is still active; Airflow runs one at a time.
                raise UserError(f"Airflow refused the backfill: {exc}") from None
            error: Exception = exc  # a server error while the api-server starts
        except OSError as exc:
            error = exc
        if time.monotonic() > deadline:
            raise _stack_down("Airflow", error) from None
        time.sleep(5)


def backfill_runs(client: Any, backfill: Backfill) -> list[dict[str, Any]]:
    """The backfill's dag runs (by logical date, oldest first)."""
    from include.airflow_api import AirflowApiError

    lo = f"{backfill.first_day + timedelta(days=1)}T00:00:00Z"
    hi = f"{backfill.last_day + timedelta(days=1)}T00:00:00Z"
    try:
        runs = client._call(
            "GET",
            f"/dags/{ETL_DAG}/dagRuns",
            params={"run_type": "backfill", "logical_date_gte": lo, "logical_date_lte": hi, "limit": 100},
        )["dag_runs"]
    except AirflowApiError as exc:
        if " -> 5" in str(exc):  # a server error while the api-server (re)starts
            raise AirflowUnavailable(str(exc)) from None
        raise
    return sorted(runs, key=lambda r: r["logical_date"])


def cancel_backfill(client: Any, backfill: Backfill) -> None:
    client._call("PUT", f"/backfills/{backfill.id}/cancel")


def failed_tasks(client: Any, run_id: str) -> list[str]:
    return [t["task_id"] for t in client.task_instances(ETL_DAG, run_id) if t["state"] == "failed"]


def run_seconds(run: dict[str, Any]) -> float | None:
    if not (run.get("start_date") and run.get("end_date")):
        return None
    start = datetime.fromisoformat(run["start_date"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(run["end_date"].replace("Z", "+00:00"))
    return round((end - start).total_seconds(), 1)
