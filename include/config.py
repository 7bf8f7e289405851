"""The pipeline's configuration: one place, read from the environment, with documented defaults.

Every setting is declared once in ``SETTINGS`` (name, default, description). Python code reads it
with :func:`get`; the local-stack shell scripts read the same values through
``python3 -m include.config --shell`` so no default is written twice. ``.env`` (copied from
``.env.example`` on first ``make up``) overrides any of them. This module imports only the standard
library: it runs before any virtualenv exists.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote, urlencode

PROJECT_ROOT = Path(os.environ.get("ADEVENTS_HOME", Path(__file__).resolve().parent.parent))
T = TypeVar("T")


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    secret: bool = False
    # A secret with no default is generated into .env by make up, unless it is a credential that
    # only the user can know (a remote cluster's password).
    generated: bool = True


SETTINGS: tuple[Setting, ...] = (
    # Where state lives. Everything the stack writes is under DATA_DIR so it survives restarts.
    Setting("DATA_DIR", "{PROJECT_ROOT}/data", "Root of all runtime state (databases, logs, checkpoints)."),
    Setting("BIND_HOST", "127.0.0.1", "Address every local service listens on."),
    # PostgreSQL
    Setting("PG_HOST", "127.0.0.1", "PostgreSQL host."),
    Setting("PG_PORT", "5432", "PostgreSQL port."),
    Setting("PG_DATABASE", "adevents", "Database of the pipeline (schemas realtime, analytics, errors)."),
    Setting("PG_OWNER_USER", "adevents_owner", "Role that owns the pipeline schemas and runs migrations."),
    Setting("PG_OWNER_PASSWORD", "", "Password of PG_OWNER_USER (generated into .env).", secret=True),
    Setting("PG_STREAM_WRITER_USER", "adevents_stream_writer", "Login used by Flink and the producer."),
    Setting("PG_STREAM_WRITER_PASSWORD", "", "Password of the stream writer (generated).", secret=True),
    Setting("PG_DBT_USER", "adevents_dbt", "Login used by dbt and the daily ETL."),
    Setting("PG_DBT_PASSWORD", "", "Password of the dbt login (generated).", secret=True),
    Setting("PG_DASHBOARD_USER", "adevents_dashboard", "Read-only login for Streamlit and Metabase."),
    Setting("PG_DASHBOARD_PASSWORD", "", "Password of the dashboard login (generated).", secret=True),
    # TLS of every PostgreSQL client (psycopg, Airflow's connections and metadata DB, dbt, the Flink
    # job's JDBC sink, the schema registry, the pipeline exporter): one place, see pg_ssl_params().
    Setting(
        "PG_SSLMODE",
        "verify-full",
        "libpq sslmode of every PostgreSQL client: disable, allow, prefer, require, verify-ca or "
        "verify-full (encrypted, the server's certificate signed by PG_SSLROOTCERT and naming PG_HOST). "
        "The local stack's server accepts TCP logins over TLS only unless this is disable.",
    ),
    Setting(
        "PG_SSLROOTCERT",
        "{DATA_DIR}/tls/postgres/ca.crt",
        "PEM file of the CA(s) that signed the server's certificate (verify-ca and verify-full). The "
        "default is the local CA that make up generates; for a managed PostgreSQL, its provider's CA.",
    ),
    Setting("AIRFLOW_DB_PASSWORD", "", "Password of the Airflow metadata DB role (generated).", secret=True),
    Setting(
        "REGISTRY_DB_PASSWORD", "", "Password of the schema registry's DB role (generated).", secret=True
    ),
    # Redis
    Setting("REDIS_HOST", "127.0.0.1", "Redis host."),
    Setting("REDIS_PORT", "6379", "Redis port."),
    Setting(
        "REDIS_PASSWORD",
        "",
        "Password Redis requires of every client (requirepass; generated into .env).",
        secret=True,
    ),
    # Kafka
    Setting("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", "Kafka bootstrap servers (any cluster)."),
    Setting("KAFKA_PORT", "9092", "Local broker's client port."),
    Setting("KAFKA_CONTROLLER_PORT", "9095", "Local broker's KRaft controller port."),
    Setting("KAFKA_JMX_EXPORTER_PORT", "9404", "Prometheus JMX exporter attached to the local broker."),
    Setting("KAFKA_HEAP", "768m", "Heap of the local broker."),
    # Kafka client security: every Kafka client of the pipeline (producer, DLQ retry and alert,
    # backfill, topic tools, the Flink job's Kafka tables, Airflow's kafka_default connection) is
    # configured from these, through include/kafka/client_conf.py.
    Setting(
        "KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        "How the clients talk to KAFKA_BOOTSTRAP_SERVERS: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    ),
    Setting(
        "KAFKA_SASL_MECHANISM",
        "PLAIN",
        "SASL mechanism (SASL_* protocols only): PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.",
    ),
    Setting("KAFKA_SASL_USERNAME", "", "SASL user of the clients (SASL_* protocols only)."),
    Setting(
        "KAFKA_SASL_PASSWORD",
        "",
        "Password of KAFKA_SASL_USERNAME (SASL_* protocols only).",
        secret=True,
        generated=False,
    ),
    Setting(
        "KAFKA_SSL_CA_LOCATION",
        "",
        "PEM file of the CA(s) that signed the brokers' certificates (SSL and SASL_SSL); empty = the "
        "system's CAs. The local stack's CA: {DATA_DIR}/tls/kafka/ca.crt.",
    ),
    Setting(
        "KAFKA_SASL_SSL_PORT",
        "9096",
        "Local broker's second listener, SASL_SSL (PLAIN and SCRAM-SHA-256, certificate from the local "
        "CA); the PLAINTEXT listener on KAFKA_PORT stays the default.",
    ),
    Setting(
        "KAFKA_LOCAL_SASL_USERNAME",
        "adevents",
        "User the local broker's SASL_SSL listener knows (PLAIN and SCRAM-SHA-256).",
    ),
    Setting(
        "KAFKA_LOCAL_SASL_PASSWORD",
        "",
        "Password of KAFKA_LOCAL_SASL_USERNAME on the local broker (generated into .env).",
        secret=True,
    ),
    Setting(
        "KAFKA_LOCAL_TLS_KEY_PASSWORD",
        "",
        "Password encrypting the local broker's TLS private key under DATA_DIR/tls/kafka (generated).",
        secret=True,
    ),
    Setting("KAFKA_REPLICATION_FACTOR", "1", "Replication factor of the pipeline's topics."),
    Setting("TOPIC_RAW", "ad_events_raw", "Topic of validated raw events."),
    Setting("TOPIC_RAW_PARTITIONS", "3", "Partitions of the raw topic."),
    Setting("TOPIC_DLQ", "ad_events_error", "Dead-letter topic."),
    Setting("TOPIC_DLQ_PARTITIONS", "1", "Partitions of the dead-letter topic."),
    Setting(
        "TOPIC_BACKFILL",
        "ad_events_backfill",
        "Topic a backfill publishes its hours to (docs/backfill.md): the live job never reads it; the "
        "backfill's batch job reads exactly the offsets it published. Created on first use, with "
        "TOPIC_RAW_PARTITIONS partitions and one day of retention.",
    ),
    Setting(
        "TOPIC_RAW_EXTRA",
        "scratch_raw_*",
        "Raw topics a DAG param or the replay CLI may name besides TOPIC_RAW (comma-separated; a "
        "trailing * matches a prefix; none = no other). Anything else is refused before a row is read.",
    ),
    Setting(
        "TOPIC_DLQ_EXTRA",
        "scratch_dlq_*",
        "Dead-letter topics a DAG param or a CLI may name besides TOPIC_DLQ (same form as TOPIC_RAW_EXTRA).",
    ),
    # Schema registry
    Setting(
        "SCHEMA_REGISTRY_URL", "http://127.0.0.1:8085/apis/ccompat/v7", "Confluent-compatible registry API."
    ),
    Setting(
        "SCHEMA_REGISTRY_USERNAME",
        "",
        "HTTP basic-auth user of the registry clients; empty = no auth (the local registry needs none).",
    ),
    Setting(
        "SCHEMA_REGISTRY_PASSWORD",
        "",
        "Password of SCHEMA_REGISTRY_USERNAME.",
        secret=True,
        generated=False,
    ),
    Setting("SCHEMA_REGISTRY_PORT", "8085", "Local Apicurio registry port."),
    Setting(
        "SCHEMA_REGISTRY_MANAGEMENT_PORT",
        "9000",
        "Local registry's Quarkus management interface (health, metrics); cannot be switched off.",
    ),
    Setting("SCHEMA_REGISTRY_HEAP", "384m", "Heap of the local registry."),
    Setting(
        "SCHEMA_SUBJECT",
        "ad_events_raw-value",
        "Subject of the raw topic's record JSON Schema (events and markers).",
    ),
    Setting("DLQ_SCHEMA_SUBJECT", "ad_events_error-value", "Subject of the dead-letter record JSON Schema."),
    # Flink
    Setting("FLINK_REST_URL", "http://127.0.0.1:8081", "Flink REST API / web UI."),
    Setting("FLINK_REST_PORT", "8081", "Local JobManager REST port."),
    Setting("FLINK_JM_PROCESS_MEMORY", "1024m", "JobManager process memory."),
    Setting(
        "FLINK_TM_PROCESS_MEMORY",
        "4096m",
        "TaskManager process memory (about 0.8 GB per slot plus framework).",
    ),
    Setting(
        "FLINK_TM_SLOTS",
        "4",
        "Task slots: the streaming job takes one; the rest is for redeploys, backfills and tests.",
    ),
    Setting(
        "FLINK_CHECKPOINTS_URI", "file://{DATA_DIR}/checkpoints", "Checkpoint directory (URI: s3:// works)."
    ),
    Setting("FLINK_SAVEPOINTS_URI", "file://{DATA_DIR}/savepoints", "Savepoint directory (URI)."),
    Setting("FLINK_JM_RPC_PORT", "6123", "Local JobManager RPC port (the TaskManager and clients reach it)."),
    Setting("FLINK_BLOB_SERVER_PORT", "6124", "Local JobManager blob server port (job jars and artifacts)."),
    Setting("FLINK_JM_METRICS_PORT", "9249", "JobManager Prometheus reporter port."),
    Setting("FLINK_TM_METRICS_PORT", "9250", "TaskManager Prometheus reporter port."),
    Setting(
        "FLINK_CLI",
        "{PROJECT_ROOT}/.venvs/flink/lib/python3.11/site-packages/pyflink/bin/flink",
        "Flink command-line client that submits PyFlink jobs (from the PyFlink venv).",
    ),
    Setting("FLINK_CONF_DIR", "{DATA_DIR}/run/conf/flink", "Flink configuration the client submits with."),
    Setting(
        "FLINK_PYTHON_EXECUTABLE",
        "{PROJECT_ROOT}/.venvs/flink/bin/python",
        "Python on the Flink cluster's TaskManagers that runs the job's Python functions (the Redis "
        "writer); a remote cluster's own interpreter with apache-flink, pandas and redis.",
    ),
    Setting(
        "FLINK_LIB_DIR",
        "{PROJECT_ROOT}/local_stack/.jars/flink-lib",
        "Flink runtime + connector jars (the client plans SQL against them).",
    ),
    Setting("FLINK_JOB_NAME", "ad_window_metrics", "Name of the streaming job; Airflow finds the job by it."),
    Setting(
        "FLINK_MAX_CHECKPOINT_AGE_S",
        "120",
        "A running job whose last completed checkpoint is older than this is unhealthy.",
    ),
    # Airflow
    Setting("AIRFLOW_PORT", "8080", "Airflow API server and UI port."),
    Setting("AIRFLOW_URL", "http://127.0.0.1:8080", "Airflow UI / REST base URL."),
    Setting("AIRFLOW_ADMIN_USER", "admin", "Airflow UI login (simple auth manager)."),
    Setting(
        "AIRFLOW_ADMIN_PASSWORD",
        "",
        "Password of AIRFLOW_ADMIN_USER (UI and REST API; generated into .env, printed by make demo).",
        secret=True,
    ),
    Setting(
        "AIRFLOW_PIPELINE_USER",
        "pipeline",
        "Airflow login the pipeline's own tasks use on the REST API (role user: it writes each run's "
        "outcome into the run's note, nothing more).",
    ),
    Setting(
        "AIRFLOW_PIPELINE_PASSWORD",
        "",
        "Password of AIRFLOW_PIPELINE_USER (generated into .env).",
        secret=True,
    ),
    Setting("AIRFLOW_JWT_SECRET", "", "Secret signing Airflow API tokens (generated).", secret=True),
    Setting(
        "AIRFLOW_FERNET_KEY", "", "Key encrypting Airflow connections in its DB (generated).", secret=True
    ),
    Setting(
        "AIRFLOW_FLINK_SUBMIT_POOL",
        "flink_submit",
        "Airflow pool of one slot for every task that may submit the streaming job (deploy, health "
        "repair, savepoint redeploy): one check-then-submit at a time on any number of workers. "
        "make up creates it; on another Airflow create it: airflow pools set <name> 1 '<description>'.",
    ),
    Setting(
        "AIRFLOW_PARALLELISM",
        "4",
        "Tasks Airflow runs at once (LocalExecutor), and each Celery worker's concurrency (2 cores: keep it small).",
    ),
    Setting(
        "AIRFLOW_EXECUTOR",
        "LocalExecutor",
        "LocalExecutor (tasks are the scheduler's subprocesses) or CeleryExecutor (tasks run on Celery "
        "workers, Redis as the broker: make up starts one worker; more can run on other hosts).",
    ),
    Setting(
        "AIRFLOW_CELERY_REDIS_DB", "1", "Redis database of the Celery broker (the dashboard cache uses 0)."
    ),
    # Monitoring
    Setting("PROMETHEUS_PORT", "9090", "Prometheus port."),
    Setting("ALERTMANAGER_PORT", "9093", "Alertmanager port."),
    Setting("POSTGRES_EXPORTER_PORT", "9187", "PostgreSQL exporter port."),
    Setting("REDIS_EXPORTER_PORT", "9121", "Redis exporter port."),
    Setting("PUSHGATEWAY_PORT", "9091", "Prometheus Pushgateway port (metrics of batch jobs and producers)."),
    Setting(
        "PUSHGATEWAY_URL",
        "http://127.0.0.1:9091",
        "Where short-lived jobs (replays, DLQ retries) push their metrics.",
    ),
    # Slack
    Setting(
        "SLACK_WEBHOOK_URL",
        "http://127.0.0.1:8099/services/local-slack",
        "Slack incoming webhook. Default: the local Slack sink (messages land in DATA_DIR/slack).",
        secret=True,
    ),
    Setting("SLACK_SINK_PORT", "8099", "Port of the local Slack sink that records webhook payloads."),
    Setting(
        "AIRFLOW_EXTERNAL_URL",
        "http://127.0.0.1:{AIRFLOW_PORT}",
        "Airflow UI as people reach it (a browser, not the stack's own clients): the base of the links "
        "in Slack messages.",
    ),
    Setting(
        "ALERTMANAGER_EXTERNAL_URL",
        "http://127.0.0.1:{ALERTMANAGER_PORT}",
        "Alertmanager UI as people reach it: the link of every alert in Slack (not the machine's host "
        "name, which Alertmanager would use).",
    ),
    # Daily batch (dag_daily_etl, include/batch, include/dbt/ad_events)
    Setting(
        "DBT_EXECUTABLE",
        "{PROJECT_ROOT}/.venvs/dbt/bin/dbt",
        "dbt CLI of the dbt venv (Cosmos runs it as a subprocess).",
    ),
    Setting("DBT_PROJECT_DIR", "{PROJECT_ROOT}/include/dbt/ad_events", "The dbt project of the daily marts."),
    Setting(
        "DBT_ROLE", "adevents_analytics_builder", "Group role dbt and the daily load work as (SET ROLE)."
    ),
    Setting(
        "DBT_TASK_GRAPH",
        "build",
        "How dag_daily_etl runs dbt: build = one `dbt build` task for the whole project (dbt's own "
        "threads; ~4x faster on a small worker), per_model = one Cosmos task per model (a tile per "
        "model in the Airflow grid; worth it with many workers).",
    ),
    Setting("BATCH_DEFAULT_SOURCE", "archive", "Where a scheduled daily run reads events: archive | avazu."),
    Setting(
        "BATCH_ARCHIVE_WAIT_S",
        "21600",
        "Seconds a daily run waits for its day to be complete in the archive before it fails and alerts.",
    ),
    Setting("BATCH_ARCHIVE_POLL_S", "10", "Seconds between two looks at the archive's completion markers."),
    Setting(
        "BATCH_HANDOFF_URI",
        "file://{DATA_DIR}/processed/parquet",
        "Where dag_daily_etl's extract hands the day's events Parquet to validate and load (Airflow "
        "object storage): any fsspec URL every worker reaches (s3://bucket/handoff...) when tasks run "
        "on several hosts (Celery, Kubernetes); file:// for one machine.",
    ),
    Setting(
        "BATCH_HANDOFF_CONN_ID",
        "",
        "Airflow connection holding BATCH_HANDOFF_URI's credentials (e.g. aws_default); empty: none.",
    ),
    Setting("BATCH_MAX_ROWS_PER_DAY", "20000000", "GX: most events a day may have (Avazu max ~6.5M)."),
    Setting("BATCH_MAX_COST", "10", "GX: highest cost of one event (the price model gives ~0.02-0.1)."),
    Setting("BATCH_MAX_REVENUE", "10000", "GX: highest revenue of one conversion."),
    Setting(
        "DOCS_DIR",
        "{DATA_DIR}/docs",
        "Where the daily ETL writes its documentation sites, which Airflow's API server serves under "
        "/docs-sites (docs/operations.md): dbt/ (dbt docs generate) and gx/ (great-expectations Data "
        "Docs of every validation; the results they are rendered from are kept in gx_results/).",
    ),
    Setting(
        "DOCS_KEEP_VALIDATIONS_PER_DAY",
        "3",
        "Data Docs: how many validations of one suite and day are kept (a re-run day keeps its newest).",
    ),
    Setting("DOCS_RETENTION_DAYS", "90", "Data Docs: validations older than this (by run time) are deleted."),
    # Realtime job (include/flink_jobs/ad_window_metrics)
    Setting(
        "FLINK_ARCHIVE_URI",
        "file://{DATA_DIR}/processed/archive",
        "Archive of validated events: the Flink job writes it, the daily ETL reads it "
        "(include/archive.py: dt=YYYY-MM-DD/hour_of_day=HH Parquet, _SUCCESS per complete hour).",
    ),
    Setting(
        "REALTIME_RETENTION_DAYS",
        "0",
        "Days of realtime window partitions to keep, counted back from the newest event-time day; 0 keeps all.",
    ),
    Setting("REDIS_WINDOW_PREFIX", "adevents", "Key prefix of the window metrics cached in Redis."),
    Setting("REDIS_WINDOW_TTL_S", "7200", "Seconds a cached window stays in Redis."),
    # Dashboards (dashboard/, Streamlit, Grafana, Metabase)
    Setting("STREAMLIT_PORT", "8501", "Streamlit dashboard port (Live, Daily and Pipeline pages)."),
    Setting("STREAMLIT_URL", "http://127.0.0.1:8501", "Streamlit dashboard base URL."),
    Setting(
        "PIPELINE_EXPORTER_PORT",
        "9188",
        "Exporter of the pipeline's own SQL metrics (window latency, freshness, final DLQ failures).",
    ),
    Setting("DASHBOARD_REFRESH_S", "10", "Seconds between two automatic refreshes of a dashboard page."),
    Setting("DASHBOARD_TREND_MINUTES", "60", "Minutes of 1m/5m windows the Live page's trend charts show."),
    Setting("DASHBOARD_TOP_CAMPAIGNS", "10", "Campaigns in the Live page's top-campaigns table."),
    Setting("DASHBOARD_DAILY_DAYS", "14", "Days of marts the Daily page shows by default (latest loaded)."),
    Setting(
        "DASHBOARD_WINDOW_TABLE",
        "realtime.ad_window_metrics",
        "Table the Live page falls back to when Redis has no windows (read as PG_DASHBOARD_USER).",
    ),
    Setting(
        "PROMETHEUS_URL", "http://127.0.0.1:9090", "Prometheus the Pipeline page and the dashboards query."
    ),
    Setting(
        "METABASE_URL", "http://127.0.0.1:3001", "Metabase (docker-compose.yaml only), for provision.py."
    ),
    Setting(
        "METABASE_ADMIN_EMAIL", "admin@example.com", "Metabase admin the provisioning script logs in as."
    ),
    Setting("METABASE_ADMIN_PASSWORD", "", "Password of METABASE_ADMIN_EMAIL (compose only).", secret=True),
    # Hostile input (include/ingest: the replay's reader, its preflight and its dead letters)
    Setting(
        "INGEST_MAX_LINE_BYTES",
        "65536",
        "Longest data line read into memory (an Avazu row is ~200 bytes); a longer one is dead-lettered "
        "with a prefix, its length and SHA-256, its full bytes kept under DLQ_PAYLOAD_DIR.",
    ),
    Setting(
        "DLQ_PAYLOAD_DIR",
        "{DATA_DIR}/dlq/payloads",
        "Where the full bytes of dead letters too big for a Kafka record are kept, one file per SHA-256.",
    ),
    Setting(
        "DLQ_PAYLOAD_RETENTION_DAYS",
        "30",
        "Days a kept full payload stays under DLQ_PAYLOAD_DIR when its dead letter was never settled "
        "(dag_dlq_retry prunes older ones; a repaired or given-up letter's file goes at once); 0 keeps all.",
    ),
    Setting(
        "INGEST_FILE_ROOTS",
        "{PROJECT_ROOT}/samples,{DATA_DIR}/raw,{DATA_DIR}/demo",
        "Comma-separated directories a DAG's file param may name (symlinks resolved); anything else is "
        "refused before it is opened.",
    ),
    # DLQ (dag_dlq_retry, dag_dlq_alert, include/dlq)
    Setting("DLQ_RETRY_GROUP", "dlq_retry", "Consumer group (and transactional id prefix) of the DLQ retry."),
    Setting("DLQ_RETRY_MAX_ATTEMPTS", "3", "Retries of one dead letter before it is stored as permanent."),
    Setting("DLQ_RETRY_BACKOFF_BASE_S", "60", "Backoff before retry n is base * 2^(n-1) seconds ..."),
    Setting("DLQ_RETRY_BACKOFF_CAP_S", "3600", "... capped at this many seconds."),
    Setting(
        "DLQ_RETRY_NON_RETRYABLE",
        "late_event,duplicate,flink_logic",
        "Error types stored as permanent at once (comma-separated): retrying cannot change them.",
    ),
    Setting("DLQ_RETRY_BATCH", "500", "Dead letters per Kafka transaction of the retry (commit unit)."),
    Setting("DLQ_RETRY_MAX_RUN_S", "300", "A retry run stops taking new records after this many seconds."),
    Setting("DLQ_ALERT_WINDOW_S", "3600", "Window of the DLQ rate alert (seconds)."),
    Setting("DLQ_ALERT_WARN_RATIO", "0.001", "DLQ rate (dlq / (raw + dlq)) that posts a warning."),
    Setting("DLQ_ALERT_ALERT_RATIO", "0.01", "DLQ rate that posts an alert."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _expand(value: str, resolved: dict[str, str]) -> str:
    return value.format(PROJECT_ROOT=PROJECT_ROOT, **resolved)


def read_env_file(path: Path | None = None) -> dict[str, str]:
    """KEY=VALUE pairs of ``.env`` (no shell expansion; blank lines and # comments ignored)."""
    path = path or Path(os.environ.get("ADEVENTS_ENV_FILE", PROJECT_ROOT / ".env"))
    if not path.exists():
        return {}
    pairs: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.lstrip().startswith("#"):
            pairs[name.strip()] = value.strip().strip("'\"")
    return pairs


def resolve(env: dict[str, str] | None = None) -> dict[str, str]:
    """Every setting's value: the environment wins, then ``.env``, then the default."""
    env = {**read_env_file(), **os.environ} if env is None else env
    resolved: dict[str, str] = {}
    for setting in SETTINGS:
        raw = env.get(setting.name) or setting.default
        resolved[setting.name] = _expand(raw, resolved) if "{" in raw else raw
    return resolved


def get(name: str) -> str:
    """One setting's value. Raises KeyError for a name not declared in SETTINGS."""
    if name not in _BY_NAME:
        raise KeyError(f"unknown setting {name!r}: declare it in include/config.py SETTINGS")
    return resolve()[name]


def param_or_setting(value: T | None, name: str, cfg: Mapping[str, str] | None = None) -> T | str:
    """``value`` when it is given (a DAG param, a CLI argument, an override), else setting ``name``.

    None and "" both mean "not given": an empty form field in the Airflow UI and an empty CLI
    argument arrive as "". ``cfg`` is an already resolved configuration to read the setting from.
    """
    if value is not None and value != "":
        return value
    return cfg[name] if cfg is not None else get(name)


def data_dir() -> Path:
    return Path(get("DATA_DIR"))


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# The libpq connection parameters about TLS that the pipeline passes on (an Airflow connection's
# extras may carry them too).
LIBPQ_SSL_KEYS = ("sslmode", "sslrootcert", "sslcert", "sslkey")


def pg_ssl_params(cfg: Mapping[str, str] | None = None) -> dict[str, str]:
    """The libpq TLS parameters every PostgreSQL client of the pipeline uses (from PG_SSLMODE and
    PG_SSLROOTCERT): the one source the DSN, URL and JDBC builders below derive from.

    The root certificate is named only for the modes that verify the server: libpq fails a
    verify-* connection whose root file is missing, with a message naming the file.
    """
    cfg = cfg if cfg is not None else resolve()
    mode = cfg["PG_SSLMODE"]
    if mode not in SSL_MODES:
        raise ValueError(f"PG_SSLMODE must be one of {', '.join(SSL_MODES)}, not {mode!r}")
    params = {"sslmode": mode}
    if mode.startswith("verify-"):
        params["sslrootcert"] = cfg["PG_SSLROOTCERT"]
    return params


def pg_uri(
    user: str,
    password: str,
    host: str,
    port: str | int,
    database: str,
    params: Mapping[str, str],
    scheme: str,
) -> str:
    """A libpq/SQLAlchemy/Airflow connection URI with its query parameters (TLS ones included)."""
    query = f"?{_query(params)}" if params else ""
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{database}{query}"


def pg_dsn(user_setting: str = "PG_OWNER", database: str | None = None) -> str:
    """libpq URI for one of the pipeline's logins (PG_OWNER, PG_STREAM_WRITER, PG_DBT, PG_DASHBOARD)."""
    cfg = resolve()
    user, password = cfg[f"{user_setting}_USER"], cfg[f"{user_setting}_PASSWORD"]
    db = database or cfg["PG_DATABASE"]
    return pg_uri(user, password, cfg["PG_HOST"], cfg["PG_PORT"], db, pg_ssl_params(cfg), "postgresql")


def pg_keywords(cfg: Mapping[str, str] | None = None) -> str:
    """The TLS parameters as libpq keyword/value pairs (``sslmode=... sslrootcert=...``), the DSN form
    the PostgreSQL exporter (Go's lib/pq) reads."""
    return " ".join(f"{key}={_keyword_value(value)}" for key, value in pg_ssl_params(cfg).items())


def _keyword_value(value: str) -> str:
    if value and not any(c in value for c in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _query(params: Mapping[str, str]) -> str:
    # Slashes stay as they are: a path reads better, and supervisord's config treats % as special.
    return urlencode(dict(params), safe="/", quote_via=quote)


def pg_jdbc_url(cfg: Mapping[str, str] | None = None, database: str | None = None) -> str:
    """PostgreSQL JDBC URL with the same TLS parameters (pgjdbc reads libpq's sslmode and a PEM
    sslrootcert; credentials are passed apart, never in the URL)."""
    cfg = cfg if cfg is not None else resolve()
    host, port, db = cfg["PG_HOST"], cfg["PG_PORT"], database or cfg["PG_DATABASE"]
    return f"jdbc:postgresql://{host}:{port}/{db}?{_query(pg_ssl_params(cfg))}"


AIRFLOW_EXECUTORS = ("LocalExecutor", "CeleryExecutor")


def airflow_executor(cfg: Mapping[str, str]) -> str:
    """AIRFLOW_EXECUTOR, checked: the executors the pipeline is tested with."""
    executor = cfg["AIRFLOW_EXECUTOR"]
    if executor not in AIRFLOW_EXECUTORS:
        raise ValueError(f"AIRFLOW_EXECUTOR must be one of {', '.join(AIRFLOW_EXECUTORS)}, not {executor!r}")
    return executor


def derived_settings(cfg: Mapping[str, str]) -> dict[str, str]:
    """Values built from the settings that the shell scripts and rendered configs need as well."""
    return {
        "PG_SSL_KEYWORDS": pg_keywords(cfg),
        "PG_SSL_QUERY": _query(pg_ssl_params(cfg)),
        # TCP logins to the local server: TLS only, unless the clients are told not to use it.
        "PG_HBA_TCP": "host" if cfg["PG_SSLMODE"] == "disable" else "hostssl",
        "AIRFLOW_EXECUTOR": airflow_executor(cfg),
        # CeleryExecutor: tasks queue in Redis; their states go to Airflow's own database.
        "AIRFLOW_CELERY_BROKER_URL": redis_url(cfg, db=int(cfg["AIRFLOW_CELERY_REDIS_DB"])),
        "AIRFLOW_CELERY_RESULT_BACKEND": (
            f"db+postgresql+psycopg2://airflow:{quote(cfg['AIRFLOW_DB_PASSWORD'], safe='')}"
            f"@{cfg['PG_HOST']}:{cfg['PG_PORT']}/airflow?{_query(pg_ssl_params(cfg))}"
        ),
    }


KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def kafka_security_params(cfg: Mapping[str, str] | None = None) -> dict[str, str]:
    """The librdkafka security keys of every Kafka client (from KAFKA_SECURITY_PROTOCOL and the
    KAFKA_SASL_* and KAFKA_SSL_* settings): nothing for PLAINTEXT, so a default setup sends the same
    configuration as before. include/kafka/client_conf.py and Airflow's kafka_default derive from it.

    Raises ValueError (one line naming the setting) for a protocol or mechanism Kafka does not know,
    or a SASL protocol without a user.
    """
    cfg = cfg if cfg is not None else resolve()
    protocol = cfg["KAFKA_SECURITY_PROTOCOL"].upper()
    if protocol not in KAFKA_SECURITY_PROTOCOLS:
        raise ValueError(
            f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(KAFKA_SECURITY_PROTOCOLS)}, "
            f"not {cfg['KAFKA_SECURITY_PROTOCOL']!r}"
        )
    if protocol == "PLAINTEXT":
        return {}
    params = {"security.protocol": protocol}
    if protocol.startswith("SASL_"):
        mechanism = cfg["KAFKA_SASL_MECHANISM"].upper()
        if mechanism not in KAFKA_SASL_MECHANISMS:
            raise ValueError(
                f"KAFKA_SASL_MECHANISM must be one of {', '.join(KAFKA_SASL_MECHANISMS)}, "
                f"not {cfg['KAFKA_SASL_MECHANISM']!r}"
            )
        if not cfg["KAFKA_SASL_USERNAME"]:
            raise ValueError(f"KAFKA_SASL_USERNAME is empty, but KAFKA_SECURITY_PROTOCOL is {protocol}")
        params |= {
            "sasl.mechanism": mechanism,
            "sasl.username": cfg["KAFKA_SASL_USERNAME"],
            "sasl.password": cfg["KAFKA_SASL_PASSWORD"],
        }
    if protocol.endswith("SSL") and cfg["KAFKA_SSL_CA_LOCATION"]:
        params["ssl.ca.location"] = cfg["KAFKA_SSL_CA_LOCATION"]
    return params


def redis_url(cfg: Mapping[str, str] | None = None, db: int = 0) -> str:
    """``redis://`` URL of the pipeline's Redis (database ``db``), with REDIS_PASSWORD when one is set."""
    cfg = cfg if cfg is not None else resolve()
    auth = f":{quote(cfg['REDIS_PASSWORD'], safe='')}@" if cfg["REDIS_PASSWORD"] else ""
    return f"redis://{auth}{cfg['REDIS_HOST']}:{cfg['REDIS_PORT']}/{db}"


def airflow_connections(cfg: dict[str, str] | None = None) -> dict[str, str]:
    """AIRFLOW_CONN_* values derived from the settings (an explicit AIRFLOW_CONN_* env var wins)."""
    cfg = cfg or resolve()

    def pg(prefix: str) -> str:
        user, password, ssl = cfg[f"{prefix}_USER"], cfg[f"{prefix}_PASSWORD"], pg_ssl_params(cfg)
        return pg_uri(user, password, cfg["PG_HOST"], cfg["PG_PORT"], cfg["PG_DATABASE"], ssl, "postgres")

    slack = cfg["SLACK_WEBHOOK_URL"]
    scheme, _, rest = slack.partition("://")
    host, _, path = rest.partition("/")
    conns = {
        "PIPELINE_DB": pg("PG_OWNER"),
        "PIPELINE_DB_STREAM_WRITER": pg("PG_STREAM_WRITER"),
        "PIPELINE_DB_DBT": pg("PG_DBT"),
        "PIPELINE_DB_DASHBOARD": pg("PG_DASHBOARD"),
        "KAFKA_DEFAULT": json.dumps(
            {
                "conn_type": "kafka",
                "extra": {"bootstrap.servers": cfg["KAFKA_BOOTSTRAP_SERVERS"], **kafka_security_params(cfg)},
            }
        ),
        "SCHEMA_REGISTRY": json.dumps(
            {
                "conn_type": "http",
                "host": cfg["SCHEMA_REGISTRY_URL"],
                **(
                    {"login": cfg["SCHEMA_REGISTRY_USERNAME"], "password": cfg["SCHEMA_REGISTRY_PASSWORD"]}
                    if cfg["SCHEMA_REGISTRY_USERNAME"]
                    else {}
                ),
            }
        ),
        "FLINK_REST": json.dumps({"conn_type": "http", "host": cfg["FLINK_REST_URL"]}),
        "AIRFLOW_API": json.dumps(
            {
                "conn_type": "http",
                "host": cfg["AIRFLOW_URL"],
                "login": cfg["AIRFLOW_PIPELINE_USER"],
                "password": cfg["AIRFLOW_PIPELINE_PASSWORD"],
            }
        ),
        "REDIS_DEFAULT": redis_url(cfg),
        # The Slack provider posts to host + password (the webhook token path).
        "SLACK_ALERTS": json.dumps(
            {"conn_type": "slackwebhook", "host": f"{scheme}://{host}", "password": path or "local"}
        ),
    }
    return {f"AIRFLOW_CONN_{k}": os.environ.get(f"AIRFLOW_CONN_{k}", v) for k, v in conns.items()}


def write_private(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` as a file only its owner may read (mode 0600), atomically.

    The file is created 0600 (a temporary file next to it, then renamed over it), so the secrets in it
    are never readable by others, not even between a write and a chmod; a file that was more open
    before is replaced by a private one.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def generate_missing_secrets(env_file: Path) -> list[str]:
    """Fill empty generated secrets in ``env_file`` (created from .env.example when absent, mode 0600)."""
    if not env_file.exists():
        write_private(env_file, (PROJECT_ROOT / ".env.example").read_text())
    lines = env_file.read_text().splitlines()
    filled: list[str] = []
    present: set[str] = set()
    for i, line in enumerate(lines):
        name, sep, value = line.partition("=")
        setting = _BY_NAME.get(name.strip())
        if sep and setting:
            present.add(setting.name)
        if sep and setting and _generated(setting) and not value.strip():
            lines[i] = f"{name.strip()}={_new_secret(setting.name)}"
            filled.append(setting.name)
    # A secret added to SETTINGS after this .env was made: appended, so an upgrade gets it too.
    for setting in SETTINGS:
        if _generated(setting) and setting.name not in present:
            lines += [f"# {setting.help}", f"{setting.name}={_new_secret(setting.name)}"]
            filled.append(setting.name)
    write_private(env_file, "\n".join(lines) + "\n")
    return filled


def _generated(setting: Setting) -> bool:
    return setting.secret and setting.generated and not setting.default


def insecure_settings(cfg: Mapping[str, str]) -> list[str]:
    """Warnings about a configuration that still uses a well-known credential (make up prints them)."""
    warnings = []
    if cfg["AIRFLOW_ADMIN_PASSWORD"] == "admin":
        warnings.append(
            "AIRFLOW_ADMIN_PASSWORD is 'admin', which anyone can guess: empty it in .env and run make up "
            "again to generate one (make demo prints it)"
        )
    return warnings


def _new_secret(name: str) -> str:
    return _fernet_key() if name == "AIRFLOW_FERNET_KEY" else secrets.token_urlsafe(24)


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def env_example() -> str:
    """The text of ``.env.example``: every setting, its help and default (secrets left empty)."""
    out = [
        "# Copy to .env (`make up` does it and generates the empty secrets). Every line is optional:",
        "# a missing or empty value falls back to the default shown. Never commit .env.",
        "",
    ]
    for s in SETTINGS:
        out.append(f"# {s.help}" + ("" if s.secret or not s.default else f" Default: {s.default}"))
        out.append(f"{s.name}={s.default if s.secret else ''}")
    return "\n".join(out) + "\n"


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--shell"]:
        cfg = resolve()
        try:
            exports = {**cfg, **derived_settings(cfg), **airflow_connections(cfg)}
        except ValueError as exc:  # a setting with a value it cannot take: say which, in one line
            print(f"error in the settings (.env or the environment): {exc}", file=sys.stderr)
            return 2
        for key, value in exports.items():
            print(f"export {key}={_shell_quote(value)}")
        return 0
    if argv[:1] == ["--init-env"]:
        env_file = Path(argv[1]) if len(argv) > 1 else PROJECT_ROOT / ".env"
        filled = generate_missing_secrets(env_file)
        if filled:
            print(f"generated secrets in .env: {', '.join(filled)}")
        for warning in insecure_settings(resolve({**read_env_file(env_file), **os.environ})):
            print(f"warning: {warning}", file=sys.stderr)
        return 0
    if argv[:1] == ["--env-example"]:
        print(env_example(), end="")
        return 0
    if argv[:1] == ["--get"] and len(argv) == 2:
        print(get(argv[1]))
        return 0
    print(
        "usage: python3 -m include.config --shell | --init-env [FILE] | --env-example | --get NAME",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
