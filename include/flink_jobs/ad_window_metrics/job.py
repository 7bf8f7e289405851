"""ad_window_metrics: Avazu ad events from Kafka -> 1-minute and 5-minute window metrics in PostgreSQL.

Submit to the session cluster (the client plans the SQL, the cluster runs it):

    FLINK_CONF_DIR=data/run/conf/flink FLINK_LIB_DIR=local_stack/.jars/flink-lib \\
        $PYFLINK_HOME/bin/flink run -d [-s SAVEPOINT_OR_CHECKPOINT] \\
        -py include/flink_jobs/ad_window_metrics/job.py [ARGS]

The Flink job is named exactly ``--pipeline-name``; Airflow finds it by that name.
Defaults come from ``include/config.py`` (environment, then ``.env``, then the default).

Arguments (all optional):
  --bootstrap-servers HOSTS   Kafka bootstrap servers. Default: KAFKA_BOOTSTRAP_SERVERS (127.0.0.1:9092)
  --source-topic TOPIC        raw events topic. Default: TOPIC_RAW (ad_events_raw)
  --dlq-topic TOPIC           dead-letter topic (JSON records of docs/design.md "Dead-letter contract").
                              Default: TOPIC_DLQ (ad_events_error)
  --group-id ID               Kafka consumer group (offsets are committed on checkpoints, for lag
                              monitoring only; positions live in checkpoints). Default: the pipeline name
  --startup-mode MODE         where a job started WITHOUT checkpoint/savepoint begins: earliest-offset
                              (default: a redeploy recomputes every window, so upserts stay complete),
                              latest-offset or group-offsets
  --jdbc-url URL              PostgreSQL JDBC URL. Default: jdbc:postgresql://PG_HOST:PG_PORT/PG_DATABASE
                              ?sslmode=PG_SSLMODE&sslrootcert=PG_SSLROOTCERT (config.pg_jdbc_url)
  --sink-table TABLE          upsert target. Default: realtime.ad_window_metrics
  --out-of-orderness DUR      bounded out-of-orderness of the watermark. Default: 5 s
  --idle-timeout DUR          a partition without records for this long stops holding the watermark
                              back; 0 = never. Default: 0: idleness makes on-time events late when
                              the job falls behind (sql.events_source_ddl); partitions without data
                              move on the producers' watermark markers instead
  --archive-uri URI           root of the archive of validated events (include/archive.py:
                              dt=YYYY-MM-DD/hour_of_day=HH/ Parquet); "" disables it. Default:
                              FLINK_ARCHIVE_URI (file://DATA_DIR/processed/archive)
  --redis-url URL             Redis for the dashboard cache; "" disables it. Default:
                              redis://REDIS_HOST:REDIS_PORT/0
  --redis-prefix PREFIX       key prefix (README "Redis keys"). Default: REDIS_WINDOW_PREFIX (adevents)
  --redis-ttl DUR             expiry of cached windows. Default: REDIS_WINDOW_TTL_S (7200 s)
  --checkpoints-uri URI       checkpoint directory. Default: FLINK_CHECKPOINTS_URI/<pipeline name>
                              (file://DATA_DIR/checkpoints/ad_window_metrics), where Airflow looks
  --checkpoint-interval DUR   Default: 10 s
  --parallelism N             Default: 1 (one subtask already uses more than a core: docs/benchmarks.md)
  --pipeline-name NAME        Flink job name, also the transactional-id prefix of the DLQ writer (one
                              running job per name). Default: FLINK_JOB_NAME (ad_window_metrics)
  --dlq-schema-id N           registry id of the dead-letter schema: each dead letter carries the
                              headers naming it (include/schema_headers.py). Default 0: no headers
  --blackhole-sinks           the same SQL into blackhole sinks (benchmarks: the cost of the sinks)
  --backfill-id ID            run as a backfill (include/backfill/): a bounded job in batch execution
                              mode over --start-offsets..--end-offsets of --source-topic, no watermark
                              (no event is late), windows into --staging-table under this id, no
                              Redis (the backfill replaces the range's cache after the swap)
  --start-offsets SPEC        backfill: first offset per partition, "partition:0,offset:N;partition:1,..."
  --end-offsets SPEC          backfill: end offset (exclusive) per partition, same form
  --staging-table TABLE       backfill: Default: realtime.ad_window_metrics_backfill
  --explain                   print the statements and the optimized plan, submit nothing

Durations: "500 ms", "5 s", "2 min", or a bare number of seconds.

Secrets come only from the environment: ADEVENTS_JDBC_USER / ADEVENTS_JDBC_PASSWORD (default: the
stream writer login PG_STREAM_WRITER_USER / PG_STREAM_WRITER_PASSWORD of include.config).

End of input: event time only moves with events. A replay ends with one heartbeat record per
partition (header ``adevents-heartbeat``, value ``{"event_time": T}``): it advances the watermark
and is otherwise ignored (README "End of input").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
if str(REPO) not in sys.path:  # `flink run -py job.py` runs this file as a script
    sys.path.insert(0, str(REPO))

from include import config  # noqa: E402
from include.flink_jobs.ad_window_metrics import sql  # noqa: E402
from include.flink_jobs.ad_window_metrics.spec import jdbc_url  # noqa: E402
from include.flink_jobs.common.state import state_dirs  # noqa: E402
from include.ingest.end_of_input import JOB_WATERMARK_DELAY_MS  # noqa: E402
from include.kafka.client_conf import java_client_properties, secrets_of  # noqa: E402

SCHEMA_PATH = REPO / "include" / "schemas" / "ad_event.schema.json"
FORMAT_SOURCES = HERE / "java"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "sec": 1000, "min": 60_000, "m": 60_000, "h": 3_600_000, None: 1000}


def duration_ms(text: str) -> int:
    """``"500 ms"``, ``"5 s"``, ``"2 min"``, ``"1 h"`` or bare seconds, in milliseconds."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. '500 ms', '5 s', '2 min')")
    return int(float(match.group(1)) * _UNIT_MS[match.group(2)])


def parse_args(argv: list[str] | None = None, cfg: dict[str, str] | None = None) -> argparse.Namespace:
    cfg = cfg or config.resolve()
    p = argparse.ArgumentParser(prog="ad_window_metrics", description=__doc__.splitlines()[0])
    p.add_argument("--bootstrap-servers", default=cfg["KAFKA_BOOTSTRAP_SERVERS"])
    p.add_argument("--source-topic", default=cfg["TOPIC_RAW"])
    p.add_argument("--dlq-topic", default=cfg["TOPIC_DLQ"])
    p.add_argument("--group-id", default=None)
    p.add_argument(
        "--startup-mode",
        default="earliest-offset",
        choices=("earliest-offset", "latest-offset", "group-offsets"),
    )
    p.add_argument("--jdbc-url", default=jdbc_url(cfg))
    p.add_argument("--sink-table", default="realtime.ad_window_metrics")
    p.add_argument("--out-of-orderness", type=duration_ms, default=JOB_WATERMARK_DELAY_MS)
    p.add_argument("--idle-timeout", type=duration_ms, default=0)
    p.add_argument("--archive-uri", default=cfg["FLINK_ARCHIVE_URI"])
    p.add_argument("--redis-url", default=f"redis://{cfg['REDIS_HOST']}:{cfg['REDIS_PORT']}/0")
    p.add_argument("--redis-prefix", default=cfg["REDIS_WINDOW_PREFIX"])
    p.add_argument("--redis-ttl", type=duration_ms, default=duration_ms(cfg["REDIS_WINDOW_TTL_S"]))
    p.add_argument("--checkpoints-uri", default=None)
    p.add_argument("--checkpoint-interval", type=duration_ms, default=duration_ms("10 s"))
    p.add_argument("--parallelism", type=int, default=1)
    p.add_argument("--pipeline-name", default=cfg["FLINK_JOB_NAME"])
    p.add_argument("--dlq-schema-id", type=int, default=0)
    p.add_argument("--blackhole-sinks", action="store_true")
    p.add_argument("--backfill-id", default=None)
    p.add_argument("--start-offsets", default=None)
    p.add_argument("--end-offsets", default=None)
    p.add_argument("--staging-table", default="realtime.ad_window_metrics_backfill")
    p.add_argument("--explain", action="store_true")
    args = p.parse_args(argv)
    if args.backfill_id is not None:
        if not (args.start_offsets and args.end_offsets):
            p.error("--backfill-id needs --start-offsets and --end-offsets")
        args.redis_url = ""  # the backfill replaces the range's cache itself, after the swap
    if args.group_id is None:
        args.group_id = args.pipeline_name
    if args.checkpoints_uri is None:
        # One directory per job name: Airflow resumes a job from the newest state under it,
        # so it must be where the job writes.
        args.checkpoints_uri = state_dirs(args.pipeline_name, cfg)[0]
    return args


def jdbc_credentials(cfg: dict[str, str]) -> tuple[str, str]:
    """From ADEVENTS_JDBC_USER/PASSWORD, else the stream writer login (never from arguments)."""
    user = config.param_or_setting(os.environ.get("ADEVENTS_JDBC_USER"), "PG_STREAM_WRITER_USER", cfg)
    password = config.param_or_setting(
        os.environ.get("ADEVENTS_JDBC_PASSWORD"), "PG_STREAM_WRITER_PASSWORD", cfg
    )
    return user, password


def masked(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced by ***: the statements carry passwords, their printout must not."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def format_jar(cfg: dict[str, str], out_dir: Path | None = None) -> Path:
    """The jar of the job's ``adevents-json`` format (``java/``), built once per source version.

    Named by the hash of its sources, so an edited format is rebuilt and a running job's jar is
    never overwritten; javac and the cluster's lib (FLINK_LIB_DIR) are all it needs.
    """
    sources = sorted(p for p in FORMAT_SOURCES.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for path in sources:
        digest.update(str(path.relative_to(FORMAT_SOURCES)).encode() + b"\0" + path.read_bytes())
    out_dir = out_dir or Path(cfg["DATA_DIR"]) / "flink" / "jars"
    jar = out_dir / f"adevents-json-{digest.hexdigest()[:16]}.jar"
    if jar.exists():
        return jar
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        classes = Path(tmp) / "classes"
        java = [str(p) for p in sources if p.suffix == ".java"]
        classpath = str(Path(cfg["FLINK_LIB_DIR"]).resolve() / "*")
        subprocess.run(
            ["javac", "--release", "11", "-nowarn", "-d", str(classes), "-cp", classpath, *java],
            check=True,
            capture_output=True,
        )
        staged = Path(tmp) / jar.name
        with zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(classes.rglob("*.class")):
                zf.write(path, str(path.relative_to(classes)))
            for path in sources:
                if "META-INF" in path.parts:
                    zf.write(path, str(path.relative_to(FORMAT_SOURCES)))
        os.replace(staged, jar)  # atomic: concurrent submissions see a whole jar or none
    return jar


def statements(args: argparse.Namespace, cfg: dict[str, str]) -> tuple[list[str], list[str]]:
    """``(DDL and views, INSERTs)`` of the job: everything it does, as SQL text."""
    properties = sql.schema_properties(json.loads(SCHEMA_PATH.read_text()))
    user, password = jdbc_credentials(cfg)
    kafka_client = java_client_properties(cfg)
    backfill = args.backfill_id is not None
    ddl = [
        sql.events_source_ddl(
            "events",
            properties,
            topic=args.source_topic,
            bootstrap_servers=args.bootstrap_servers,
            group_id=args.group_id,
            out_of_orderness_ms=args.out_of_orderness,
            idle_timeout_ms=args.idle_timeout,
            startup_mode=args.startup_mode,
            bounded_offsets=(args.start_offsets, args.end_offsets) if backfill else None,
            client_properties=kafka_client,
        ),
        *sql.transform_views(
            "events", properties, **({"watermark": sql.BATCH_WATERMARK} if backfill else {})
        ),
        sql.window_metrics_view(),
    ]
    dlq_sink = sql.dlq_sink_ddl(
        "dlq_sink",
        topic=args.dlq_topic,
        bootstrap_servers=args.bootstrap_servers,
        transactional_id_prefix=f"{args.pipeline_name}-dlq",
        with_headers=bool(args.dlq_schema_id),
        exactly_once=not backfill,  # a batch job takes no checkpoints to commit transactions on
        client_properties=kafka_client,
    )
    if args.blackhole_sinks:  # the same queries, nothing leaves the job
        ddl += [sql.blackhole_sink_ddl("metrics_sink", sql.metrics_sink_columns()),
                sql.blackhole_sink_ddl("dlq_sink", sql.dlq_columns(bool(args.dlq_schema_id)))]  # fmt: skip
    else:
        # One PostgreSQL login either way; a backfill writes to its staging table, the stream in place.
        login = {"url": args.jdbc_url, "username": user, "password": password}
        metrics_sink = (
            sql.staging_sink_ddl("metrics_sink", staging_table=args.staging_table, **login)
            if backfill
            else sql.jdbc_sink_ddl("metrics_sink", sink_table=args.sink_table, **login)
        )
        ddl += [metrics_sink, dlq_sink]
    inserts = [
        sql.staging_insert("metrics_sink", args.backfill_id)
        if backfill and not args.blackhole_sinks
        else f"INSERT INTO metrics_sink SELECT {', '.join(sql.METRICS_COLUMNS)} FROM window_metrics",
        f"INSERT INTO dlq_sink {sql.dlq_query(schema_id=args.dlq_schema_id or None)}",
    ]
    if args.archive_uri:
        if args.blackhole_sinks:
            ddl.append(sql.blackhole_sink_ddl("archive_sink", sql.archive_sink_columns()))
        else:
            ddl.append(sql.archive_sink_ddl("archive_sink", path=args.archive_uri))
        inserts.append(f"INSERT INTO archive_sink {sql.archive_query()}")
    if args.redis_url:
        if args.blackhole_sinks:  # the window rows, without the Redis writer (a Python UDF)
            ddl.append(sql.blackhole_sink_ddl("redis_sink", sql.metrics_sink_columns()))
            inserts.append(
                f"INSERT INTO redis_sink SELECT {', '.join(sql.METRICS_COLUMNS)} FROM window_metrics"
            )
        else:
            ddl.append(sql.redis_sink_ddl("redis_sink"))
            inserts.append(f"INSERT INTO redis_sink {sql.redis_query()}")
    return ddl, inserts


def configure(t_env: Any, args: argparse.Namespace) -> None:
    """Job-level settings: exactly-once RocksDB checkpoints, UTC, stable plan."""
    conf = t_env.get_config()
    for key, value in {
        "pipeline.name": args.pipeline_name,
        "parallelism.default": str(args.parallelism),
        "table.local-time-zone": "UTC",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.interval": f"{args.checkpoint_interval} ms",
        "execution.checkpointing.dir": args.checkpoints_uri,
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "state.backend.type": "rocksdb",
        "state.backend.incremental": "true",
        "table.exec.source.idle-timeout": f"{args.idle_timeout} ms",  # 0 ms = off
        # Operator uids from the plan's node ids: identical SQL -> identical uids -> a savepoint
        # restores (README "Savepoints").
        "table.exec.uid.generation": "ALWAYS",
        # Chained operators hand rows on without a defensive copy: the SQL operators and our format
        # never mutate a row they were given (measured: docs/benchmarks.md).
        "pipeline.object-reuse": "true",
    }.items():
        conf.set(key, value)


def main(argv: list[str] | None = None) -> int:
    from pyflink.common.configuration import Configuration
    from pyflink.table import EnvironmentSettings, TableEnvironment

    cfg = config.resolve()
    args = parse_args(argv, cfg)
    settings = (
        EnvironmentSettings.in_batch_mode() if args.backfill_id else EnvironmentSettings.in_streaming_mode()
    )
    t_env = TableEnvironment.create(settings)
    configure(t_env, args)
    ddl, inserts = statements(args, cfg)
    # The format ships with the job (the cluster's lib stays as deployed).
    jars = [format_jar(cfg)]
    if args.explain:  # planning outside `flink run` needs the connector jars on the classpath
        jars += sorted(
            p
            for p in Path(cfg["FLINK_LIB_DIR"]).glob("*.jar")
            if re.search(r"connector|parquet|hadoop|postgresql|zstd", p.name)
        )
    # Appended: `flink run -py` already lists the flink-python jar there (the Redis writer needs it).
    listed = Configuration.parse_list_value(t_env.get_config().get("pipeline.jars", "") or "[]")
    t_env.get_config().set("pipeline.jars", ";".join([*listed, *(p.resolve().as_uri() for p in jars)]))
    if args.redis_url and not args.blackhole_sinks:
        from include.flink_jobs.ad_window_metrics import redis_cache

        redis_cache.register(t_env, url=args.redis_url, prefix=args.redis_prefix, ttl_ms=args.redis_ttl)
    for statement in ddl:
        t_env.execute_sql(statement)
    statement_set = t_env.create_statement_set()
    for insert in inserts:
        statement_set.add_insert_sql(insert)
    if args.explain:
        print(masked("\n;\n".join([*ddl, *inserts]), [jdbc_credentials(cfg)[1], *secrets_of(cfg)]))
        print(masked(statement_set.explain(), [jdbc_credentials(cfg)[1], *secrets_of(cfg)]))
        return 0
    result = statement_set.execute()
    client = result.get_job_client()
    print(f"submitted {args.pipeline_name}: JobID {client.get_job_id() if client else 'unknown'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
