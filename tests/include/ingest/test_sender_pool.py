"""Sender processes report what became of them, across the process boundary, without a broker:
a sender that cannot start says why, and the replay's finish() returns instead of waiting forever."""

from __future__ import annotations

import time

from include.ingest.economics import load_price_model
from include.ingest.events import load_schema
from include.ingest.sender_pool import SenderPool


def _sender_args(kafka_conf: dict[str, object]) -> tuple[object, ...]:
    return (kafka_conf, "raw", "dlq", 1, load_schema(), load_price_model(None), None, "f.csv", None, 2, None)


def test_a_sender_that_cannot_start_reports_why_and_finish_returns():
    # librdkafka refuses an unknown property when the producer is created, in the sender process.
    conf = {"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 1000, "no.such.property": "1"}
    pool = SenderPool(2, _sender_args(conf), flush_timeout_s=5, partitions=3)
    started = time.monotonic()
    pool.finish(lambda: None)
    assert time.monotonic() - started < 60
    assert set(pool.errors) == {0, 1}
    assert all("no.such.property" in message for message in pool.errors.values()), pool.errors
    assert pool.totals().published == 0


def test_a_sender_process_killed_midway_is_reported_with_its_exit_code():
    conf = {"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 1000}
    pool = SenderPool(1, _sender_args(conf), flush_timeout_s=5, partitions=1)
    pool.workers[0].proc.kill()
    pool.finish(lambda: None)
    assert pool.errors == {0: "sender process exited with code -9"}
