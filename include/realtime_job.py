"""The submission spec of the streaming job (``ad_window_metrics``), built from the settings.

Airflow-free so the DAGs, tests and a shell can all submit the same job the same way. Database
credentials go to the job as environment variables of the submitting client, not as program
arguments, so they never show in the Flink UI's job configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from include import config
from include.flink_cli import JobSpec

JOB_FILE = Path(__file__).resolve().parent / "flink_jobs" / "ad_window_metrics" / "job.py"
# How the DAGs name the spec builder (operators take callables as dotted paths).
SPEC_CALLABLE = "include.realtime_job.ad_window_metrics_spec"


def newest_watermark_ms(get_json: Callable[[str], Any], job_id: str) -> int | None:
    """A Flink job's newest event-time watermark over all its operators (None before its first event).

    ``get_json(path)`` answers a GET on the Flink REST API (the Airflow hook, or plain requests).
    """
    vertices = get_json(f"/jobs/{job_id}")["vertices"]
    marks = [
        int(m["value"]) for v in vertices for m in get_json(f"/jobs/{job_id}/vertices/{v['id']}/watermarks")
    ]
    newest = max(marks, default=-(2**63))
    return newest if newest > 0 else None


def ad_window_metrics_spec() -> JobSpec:
    cfg = config.resolve()
    if not JOB_FILE.exists():
        raise FileNotFoundError(f"streaming job not found at {JOB_FILE}")
    jdbc_url = f"jdbc:postgresql://{cfg['PG_HOST']}:{cfg['PG_PORT']}/{cfg['PG_DATABASE']}"
    return JobSpec(
        name=cfg["FLINK_JOB_NAME"],
        py_file=JOB_FILE,
        args=(
            "--bootstrap-servers",
            cfg["KAFKA_BOOTSTRAP_SERVERS"],
            "--source-topic",
            cfg["TOPIC_RAW"],
            "--dlq-topic",
            cfg["TOPIC_DLQ"],
            "--jdbc-url",
            jdbc_url,
            "--pipeline-name",
            cfg["FLINK_JOB_NAME"],
        ),
        env=(
            ("ADEVENTS_JDBC_USER", cfg["PG_STREAM_WRITER_USER"]),
            ("ADEVENTS_JDBC_PASSWORD", cfg["PG_STREAM_WRITER_PASSWORD"]),
        ),
    )
