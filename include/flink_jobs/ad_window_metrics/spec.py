"""How this job is submitted: its file, the arguments taken from the settings, its secrets.

Airflow-free so the DAGs, tests, benchmarks and a shell submit the same job the same way.
Database and Redis credentials go to the job as environment variables of the submitting client, not
as program arguments, so they never show in the Flink UI's job configuration or a process list.
"""

from __future__ import annotations

from pathlib import Path

from include import config
from include.flink_jobs.common.submit import JobSpec

JOB_FILE = Path(__file__).resolve().parent / "job.py"
# Operators take the spec builder as a dotted path, resolved when the task runs (not at parse time).
SPEC_CALLABLE = "include.flink_jobs.ad_window_metrics.spec.job_spec"


def jdbc_url(cfg: dict[str, str]) -> str:
    """The sink's JDBC URL, TLS parameters (PG_SSLMODE, PG_SSLROOTCERT) included."""
    return config.pg_jdbc_url(cfg)


def job_spec() -> JobSpec:
    # Here, not at the top: job.py imports this module in Flink's Python, which has no registry client.
    from include.schema_registry import fetch_schema

    cfg = config.resolve()
    if not JOB_FILE.exists():
        raise FileNotFoundError(f"streaming job not found at {JOB_FILE}")
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
            jdbc_url(cfg),
            "--pipeline-name",
            cfg["FLINK_JOB_NAME"],
            # Looked up at each submission: a re-registered schema gets a new id.
            "--dlq-schema-id",
            str(fetch_schema(cfg["SCHEMA_REGISTRY_URL"], cfg["DLQ_SCHEMA_SUBJECT"])[0]),
        ),
        env=(
            ("ADEVENTS_JDBC_USER", cfg["PG_STREAM_WRITER_USER"]),
            ("ADEVENTS_JDBC_PASSWORD", cfg["PG_STREAM_WRITER_PASSWORD"]),
            ("ADEVENTS_REDIS_PASSWORD", cfg["REDIS_PASSWORD"]),
        ),
    )
