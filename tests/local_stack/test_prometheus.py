"""Prometheus scrapes every component of the stack, and every target is up."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.integration

EXPECTED_JOBS = {"prometheus", "alertmanager", "kafka", "flink", "postgres", "redis", "pushgateway"}


def test_every_scrape_target_is_up(cfg):
    url = f"http://{cfg['BIND_HOST']}:{cfg['PROMETHEUS_PORT']}/api/v1/targets?state=active"
    deadline = time.monotonic() + 90
    while True:
        targets = requests.get(url, timeout=5).json()["data"]["activeTargets"]
        health = {(t["labels"]["job"], t["scrapeUrl"]): t["health"] for t in targets}
        if (health and all(h == "up" for h in health.values())) or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert {job for job, _ in health} >= EXPECTED_JOBS
    assert all(h == "up" for h in health.values()), {k: v for k, v in health.items() if v != "up"}


def test_component_metrics_are_real(cfg):
    base = f"http://{cfg['BIND_HOST']}:{cfg['PROMETHEUS_PORT']}/api/v1/query"
    queries = (
        "pg_up",
        "redis_up",
        "kafka_server_replicamanager_partitioncount",
        "flink_jobmanager_numRegisteredTaskManagers",
    )
    deadline = time.monotonic() + 60  # a freshly started Prometheus needs a scrape or two
    for query in queries:
        while True:
            result = requests.get(base, params={"query": query}, timeout=5).json()["data"]["result"]
            if result or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert result, f"no samples for {query}"
        assert float(result[0]["value"][1]) >= 1, f"{query} = {result[0]['value'][1]}"
