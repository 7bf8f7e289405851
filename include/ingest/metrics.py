"""Prometheus metrics of a replay, pushed to the Pushgateway during the run and at its end.

A replay is a short-lived batch job, so it pushes (Prometheus scrapes the Pushgateway with
``honor_labels``) under the grouping key ``job="avazu_replay", replay_id=<id>``; the last push stays
visible after the run. Values are computed from the aggregated :class:`Counters` snapshots, so worker
processes never talk to the Pushgateway themselves.

Metrics (labels ``topic``; dead letters also ``error_type``):

- ``avazu_replay_rows_read_total``: rows read from the file (within the hour range)
- ``avazu_replay_rows_published_total``: rows acknowledged by the broker on the raw topic
- ``avazu_replay_rows_dead_lettered_total{error_type}``: rows acknowledged on the DLQ
- ``avazu_replay_rows_failed_total``: rows whose delivery failed (lost unless replayed)
- ``avazu_replay_bytes_published_total``: value bytes acknowledged on the raw topic
- ``avazu_replay_delivery_latency_seconds``: produce() to broker acknowledgement (histogram)
- ``avazu_replay_running``: 1 while the replay runs, 0 once it has ended
- ``avazu_replay_last_push_timestamp_seconds``: when these values were pushed
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, push_to_gateway
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from include.ingest.accounting import LATENCY_BUCKETS, Counters

log = logging.getLogger(__name__)
JOB = "avazu_replay"


class _ReplayCollector(Collector):
    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.counters = Counters()
        self.rows_read = 0
        self.running = True

    def collect(self) -> Iterator[Metric]:
        c, labels = self.counters, [self.topic]

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(name, doc, labels=["topic"])
            family.add_metric(labels, value)
            return family

        yield counter("avazu_replay_rows_read", "Rows read from the Avazu file (in range).", self.rows_read)
        yield counter("avazu_replay_rows_published", "Rows acknowledged on the raw topic.", c.published)
        dead = CounterMetricFamily(
            "avazu_replay_rows_dead_lettered", "Rows acknowledged on the DLQ.", labels=["topic", "error_type"]
        )
        for error_type in ("parsing", "schema"):
            dead.add_metric([self.topic, error_type], c.by_error_type.get(error_type, 0))
        for error_type, value in c.by_error_type.items():
            if error_type not in ("parsing", "schema"):
                dead.add_metric([self.topic, error_type], value)
        yield dead
        yield counter("avazu_replay_rows_failed", "Rows whose delivery failed.", c.failed)
        yield counter(
            "avazu_replay_bytes_published", "Value bytes acknowledged on the raw topic.", c.bytes_published
        )
        cumulative, buckets = 0, []
        for bound, count in zip((*LATENCY_BUCKETS, float("inf")), c.latency_buckets, strict=True):
            cumulative += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        histogram = HistogramMetricFamily(
            "avazu_replay_delivery_latency_seconds",
            "Time from produce() to the broker's acknowledgement.",
            labels=["topic"],
        )
        histogram.add_metric(labels, buckets, c.latency_sum)
        yield histogram
        running = GaugeMetricFamily("avazu_replay_running", "1 while the replay runs.", labels=["topic"])
        running.add_metric(labels, 1.0 if self.running else 0.0)
        yield running
        pushed = GaugeMetricFamily(
            "avazu_replay_last_push_timestamp_seconds", "When these values were pushed.", labels=["topic"]
        )
        pushed.add_metric(labels, time.time())
        yield pushed


class ReplayMetrics:
    """Pushes a replay's metrics; a Pushgateway that is down costs a warning, never the replay.

    :param url: Pushgateway base URL (setting ``PUSHGATEWAY_URL``); empty disables pushing.
    :param replay_id: grouping key value, so concurrent replays do not overwrite each other.
    :param topic: the raw topic, a label on every metric.
    :param interval_s: minimum seconds between two pushes during the run (default 5).
    """

    def __init__(self, url: str, replay_id: str, topic: str, interval_s: float = 5.0) -> None:
        self.url = url
        self.replay_id = replay_id
        self.interval_s = interval_s
        self.registry = CollectorRegistry()
        self._collector = _ReplayCollector(topic)
        self.registry.register(self._collector)
        self._last_push = 0.0
        self._warned = False
        self.pushes = 0

    def update(self, counters: Counters, rows_read: int) -> None:
        self._collector.counters = counters
        self._collector.rows_read = rows_read

    def maybe_push(self) -> None:
        if time.monotonic() - self._last_push >= self.interval_s:
            self.push()

    def push(self, final: bool = False) -> bool:
        if final:
            self._collector.running = False
        self._last_push = time.monotonic()
        if not self.url:
            return False
        try:
            push_to_gateway(
                self.url,
                job=JOB,
                registry=self.registry,
                grouping_key={"replay_id": self.replay_id},
                timeout=5,
            )
        except OSError as exc:
            if not self._warned:
                log.warning(
                    "could not push metrics to the Pushgateway at %s (%s); replay continues", self.url, exc
                )
                self._warned = True
            return False
        self.pushes += 1
        return True
