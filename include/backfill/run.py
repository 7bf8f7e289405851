"""One backfill: publish the hours to the backfill topic, batch-compute their windows, swap them in.

Steps (each safe to kill; a new run starts over and reaches the same result):

1. Take a PostgreSQL advisory lock (one backfill at a time: the topic offsets and the staging rows
   are then this run's alone; the lock goes with the connection, so a killed run frees it), cancel a
   backfill job a killed run left behind, drop staging rows nobody will swap in.
2. Replay the hours into ``TOPIC_BACKFILL`` with the replay's own code: every row validated and bad
   rows dead-lettered exactly as a streamed replay does. The live job never reads that topic.
3. Submit the streaming job's SQL as a bounded job in batch execution mode over exactly the offsets
   step 2 published (``job.py --backfill-id``): windows into the staging table, late events
   impossible (no watermark), Flink-side dead letters to the DLQ, the archive to a staging directory.
4. Swap (include/backfill/swap.py): PostgreSQL in one transaction, then Redis, then the archive.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include import archive, config
from include.backfill import swap
from include.ingest.event_time import HOUR_MS, hour_start_ms
from include.kafka.client_conf import client_conf

log = logging.getLogger(__name__)

STAGING_TABLE = "realtime.ad_window_metrics_backfill"
_LOCK_KEY = 0x4144_4246  # "ADBF": one backfill at a time, across every runner of this project


class BackfillError(RuntimeError):
    """The backfill could not finish; the message says why. Nothing partial is visible to readers."""


@dataclass(frozen=True)
class BackfillRequest:
    """What to backfill and where the results go (unset: the pipeline's settings).

    :param file: Avazu CSV or .gz holding the hours.
    :param hour_from: / :param hour_to: inclusive hour range, YYMMDDHH (UTC).
    :param topic: backfill topic (default setting ``TOPIC_BACKFILL``); created when missing.
    :param dlq_topic: dead-letter topic (default ``TOPIC_DLQ``).
    :param sink_table: live window table whose range is replaced (default realtime.ad_window_metrics).
    :param archive_uri: archive root (default ``FLINK_ARCHIVE_URI``); ``""`` leaves the archive alone.
    :param redis_prefix: cache key prefix (default ``REDIS_WINDOW_PREFIX``); ``""`` leaves Redis alone.
    :param job_name: Flink job name (default ``<FLINK_JOB_NAME>_backfill``).
    :param timeout_s: how long the batch job may run (default 1800 s).
    """

    file: Path
    hour_from: str
    hour_to: str
    topic: str | None = None
    dlq_topic: str | None = None
    sink_table: str = "realtime.ad_window_metrics"
    archive_uri: str | None = None
    redis_prefix: str | None = None
    job_name: str | None = None
    timeout_s: float = 1800.0


@dataclass
class BackfillReport:
    """What a backfill did: the run's summary line, the DAG's XCom."""

    backfill_id: str
    hour_from: str
    hour_to: str
    rows_read: int = 0
    published: int = 0
    dead_lettered: int = 0
    windows_deleted: int = 0
    windows_written: int = 0
    cache_rows: int = 0
    archive_hours: int = 0
    job_id: str = ""
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"backfill {self.backfill_id} of hours {self.hour_from}..{self.hour_to}: {self.published} events "
            f"published ({self.dead_lettered} dead-lettered of {self.rows_read} rows read), "
            f"{self.windows_written} windows written in place of {self.windows_deleted}, "
            f"{self.cache_rows} cached, {self.archive_hours} archive hours replaced"
        )


def new_backfill_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


@contextlib.contextmanager
def exclusive(conn: Any) -> Iterator[None]:
    """Hold the project's backfill lock for the block, or fail at once if another run holds it."""
    if not conn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK_KEY,)).fetchone()[0]:
        raise BackfillError("another backfill is running; try again when it has finished")
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def end_offsets(cfg: dict[str, str], topic: str) -> dict[int, int]:
    """Each partition's next offset (its end), as a read_committed reader sees it."""
    from include.kafka import metadata

    consumer = metadata.committed_reader(cfg["KAFKA_BOOTSTRAP_SERVERS"], "backfill-offsets")
    try:
        return metadata.end_offsets(consumer, topic)
    finally:
        consumer.close()


def offsets_spec(offsets: dict[int, int]) -> str:
    """The Kafka connector's ``specific-offsets`` form."""
    return ";".join(f"partition:{p},offset:{o}" for p, o in sorted(offsets.items()))


def cancel_leftovers(flink: Any, job_name: str) -> list[str]:
    """Cancel jobs of this name a killed backfill left running (we hold the lock: none is current)."""
    cancelled = [job.job_id for job in flink.active_jobs(job_name)]
    for job_id in cancelled:
        log.warning("cancelling %s (%s), left running by an interrupted backfill", job_name, job_id)
        flink.cancel(job_id)
    return cancelled


def job_spec(
    cfg: dict[str, str], request: BackfillRequest, backfill_id: str, start: str, end: str, archive_uri: str
) -> Any:
    from include.flink_jobs.ad_window_metrics.spec import JOB_FILE, jdbc_url
    from include.flink_jobs.common.submit import JobSpec
    from include.schema_registry import fetch_schema

    name = request.job_name or f"{cfg['FLINK_JOB_NAME']}_backfill"
    return JobSpec(
        name=name,
        py_file=JOB_FILE,
        args=(
            "--bootstrap-servers",
            cfg["KAFKA_BOOTSTRAP_SERVERS"],
            "--source-topic",
            request.topic or cfg["TOPIC_BACKFILL"],
            "--dlq-topic",
            request.dlq_topic or cfg["TOPIC_DLQ"],
            "--jdbc-url",
            jdbc_url(cfg),
            "--pipeline-name",
            name,
            "--dlq-schema-id",
            str(fetch_schema(cfg["SCHEMA_REGISTRY_URL"], cfg["DLQ_SCHEMA_SUBJECT"])[0]),
            "--backfill-id",
            backfill_id,
            "--start-offsets",
            start,
            "--end-offsets",
            end,
            "--staging-table",
            STAGING_TABLE,
            "--archive-uri",
            archive_uri,
        ),  # fmt: skip
        env=(
            ("ADEVENTS_JDBC_USER", cfg["PG_STREAM_WRITER_USER"]),
            ("ADEVENTS_JDBC_PASSWORD", cfg["PG_STREAM_WRITER_PASSWORD"]),
        ),
    )


def run_backfill(
    request: BackfillRequest, on_submitted: Callable[[str], None] | None = None
) -> BackfillReport:
    """Backfill ``request``'s hours; returns the report or raises :class:`BackfillError`.

    :param on_submitted: called with the Flink job id once the batch job is submitted (tests).
    """
    import psycopg
    from confluent_kafka.admin import AdminClient

    from include.flink_jobs.common.client import FlinkRestError, client_from
    from include.flink_jobs.common.submit import FlinkSubmitError, submit
    from include.ingest.producer import ReplayError, ReplayOptions, replay
    from include.kafka.topics import backfill_topic, ensure_topics

    cfg = config.resolve()
    backfill_id = new_backfill_id()
    report = BackfillReport(backfill_id, request.hour_from, request.hour_to)
    start_ms, end_ms = hour_start_ms(request.hour_from), hour_start_ms(request.hour_to) + HOUR_MS
    if end_ms <= start_ms:
        raise BackfillError(f"empty hour range {request.hour_from}..{request.hour_to}")
    topic = request.topic or cfg["TOPIC_BACKFILL"]
    job_name = request.job_name or f"{cfg['FLINK_JOB_NAME']}_backfill"
    archive_uri = cfg["FLINK_ARCHIVE_URI"] if request.archive_uri is None else request.archive_uri
    prefix = cfg["REDIS_WINDOW_PREFIX"] if request.redis_prefix is None else request.redis_prefix
    root = archive.root_path(archive_uri) if archive_uri else None
    staged = root / "_backfill" / backfill_id if root else None  # "_": not data to archive readers
    clock = time.monotonic()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.monotonic()
        report.seconds[step] = round(now - clock, 3)
        clock = now

    flink = client_from(cfg, timeout=15)
    with psycopg.connect(config.pg_dsn("PG_STREAM_WRITER"), autocommit=True) as conn, exclusive(conn):
        cancel_leftovers(flink, job_name)
        conn.execute(f"DELETE FROM {STAGING_TABLE}")  # rows of killed runs: nobody swaps them in
        if root is not None:
            for leftover in (root / "_backfill").glob("*"):
                import shutil

                shutil.rmtree(leftover, ignore_errors=True)
        ensure_topics(AdminClient(client_conf(cfg)), [backfill_topic(cfg, topic)])
        start = end_offsets(cfg, topic)
        options = ReplayOptions(
            file=Path(request.file),
            hour_from=request.hour_from,
            hour_to=request.hour_to,
            topic=topic,
            dlq_topic=request.dlq_topic,
            replay_id=f"backfill-{backfill_id}",
            end_of_input=False,  # a batch job needs no watermark markers
        )
        try:
            replayed = replay(options)
        except ReplayError as exc:
            raise BackfillError(f"publishing the hours failed: {exc}") from None
        report.rows_read, report.published = replayed.rows_read, replayed.published
        report.dead_lettered = replayed.dead_lettered
        if not replayed.ok:
            raise BackfillError(f"publishing the hours failed its accounting: {replayed.render()}")
        end = end_offsets(cfg, topic)
        lap("publish")
        spec = job_spec(cfg, request, backfill_id, offsets_spec(start), offsets_spec(end),
                        staged.as_uri() if staged else "")  # fmt: skip
        try:
            report.job_id = submit(spec)
        except FlinkSubmitError as exc:
            raise BackfillError(str(exc)) from None
        if on_submitted:
            on_submitted(report.job_id)
        try:
            flink.wait_finished(report.job_id, request.timeout_s)
        except FlinkRestError as exc:
            raise BackfillError(f"the backfill's {exc}") from None
        lap("compute")
        report.windows_deleted, report.windows_written = swap.replace_windows(
            conn,
            table=request.sink_table,
            staging_table=STAGING_TABLE,
            backfill_id=backfill_id,
            start_ms=start_ms,
            end_ms=end_ms,
        )
        if prefix:
            import redis

            client = redis.Redis.from_url(config.redis_url(cfg), socket_timeout=10)
            rows = swap.range_rows(conn, request.sink_table, start_ms, end_ms)
            ttl_ms = int(float(cfg["REDIS_WINDOW_TTL_S"]) * 1000)
            report.cache_rows = swap.replace_cache(
                client, prefix=prefix, ttl_ms=ttl_ms, rows=rows, start_ms=start_ms, end_ms=end_ms
            )
        if root is not None and staged is not None:
            report.archive_hours = swap.swap_archive(root, staged, start_ms, end_ms)
        lap("swap")
    log.info(report.summary())
    return report
