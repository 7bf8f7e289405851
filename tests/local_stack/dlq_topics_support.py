"""Fresh (raw, dlq) Kafka topic pairs for tests that drain a DLQ, removed with every trace afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka.admin import NewTopic

from include import config
from include.dlq.retry_topics import retry_topic


@contextmanager
def topic_pairs(kafka_admin: Any, prefix: str) -> Iterator[Callable[[], tuple[str, str]]]:
    """A factory of (``scratch_raw_<prefix>_<id>``, ``scratch_dlq_<prefix>_<id>``) pairs (the scratch
    namespace a DAG param may name, settings TOPIC_RAW_EXTRA / TOPIC_DLQ_EXTRA); at the end every topic made,
    retry topics included, is deleted, and so are the rows the drains stored for those DLQs."""
    created: list[str] = []

    def make() -> tuple[str, str]:
        suffix = uuid.uuid4().hex[:8]
        raw, dlq = f"scratch_raw_{prefix}_{suffix}", f"scratch_dlq_{prefix}_{suffix}"
        for future in kafka_admin.create_topics([NewTopic(raw, 3, 1), NewTopic(dlq, 1, 1)]).values():
            future.result(timeout=30)
        created.extend([raw, dlq, retry_topic(dlq, 1), retry_topic(dlq, 2)])
        return raw, dlq

    try:
        yield make
    finally:
        existing = set(kafka_admin.list_topics(timeout=10).topics)
        doomed = [t for t in created if t in existing]
        if doomed:
            kafka_admin.delete_topics(doomed)
        import psycopg  # the owner removes the test's rows (the DAG's login may not delete: append-only)

        with psycopg.connect(config.pg_dsn("PG_OWNER"), autocommit=True) as conn:
            for table in ("errors.dlq_errors", "errors.retry_history"):
                conn.execute(f"DELETE FROM {table} WHERE dlq_topic = ANY(%s)", (created,))
