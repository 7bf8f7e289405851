"""The provisioned Grafana dashboards (local_stack/docker/grafana/): well-formed, on the provisioned
data source, and every panel's PromQL answers with data on the live local Prometheus once there is
traffic (a short replay of the sample, a running Flink job with a checkpoint, a live window)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from include import config

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "local_stack" / "docker" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
SAMPLE = REPO / "samples" / "avazu_sample_100.csv"


def _panels(path: Path) -> list[dict[str, Any]]:
    out = []
    for panel in json.loads(path.read_text())["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # collapsed rows keep their panels inside
    return out


def _queries() -> list[tuple[str, str, str]]:
    return [
        (path.name, panel["title"], target["expr"])
        for path in DASHBOARDS
        for panel in _panels(path)
        for target in panel.get("targets", [])
    ]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_well_formed(path: Path) -> None:
    dash = json.loads(path.read_text())
    provisioned = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    uids = {d["uid"] for d in provisioned["datasources"]}
    assert dash["uid"] and dash["title"]
    panels = _panels(path)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel.get("targets"), f"{path.name}: panel {panel['title']!r} has no query"
        assert (
            panel["datasource"]["uid"] in uids
        ), f"{path.name}: {panel['title']!r} uses an unknown data source"
        for target in panel["targets"]:
            assert target.get("expr", "").strip(), f"{path.name}: {panel['title']!r} has an empty query"


def test_health_dashboard_covers_the_issue_topics() -> None:
    rows = {p["title"] for p in _panels(GRAFANA / "dashboards/pipeline-health.json") if p["type"] == "row"}
    assert rows >= {"Throughput", "Latency", "Error rate", "Consumer lag", "Checkpoints", "Resource use"}


# ------------------------------------------------------------------------------------ live queries


def _prom(cfg: dict[str, str], expr: str) -> dict[str, Any]:
    resp = requests.get(f"{cfg['PROMETHEUS_URL']}/api/v1/query", params={"query": expr}, timeout=10)
    return resp.json()


def _running_job_with_checkpoint(cfg: dict[str, str]) -> bool:
    jobs = requests.get(f"{cfg['FLINK_REST_URL']}/jobs/overview", timeout=10).json()["jobs"]
    for job in jobs:
        if job["state"] == "RUNNING":
            counts = requests.get(f"{cfg['FLINK_REST_URL']}/jobs/{job['jid']}/checkpoints", timeout=10).json()
            if counts.get("counts", {}).get("completed", 0) > 0:
                return True
    return False


@pytest.fixture(scope="module")
def traffic(cfg: dict[str, str], kafka_admin: Any, bootstrapped: Any) -> Iterator[None]:
    """Replay the sample into private topics, run the Flink job on them until a checkpoint completed
    (unless a job with checkpoints already runs), and put one live window into the real table."""
    import psycopg

    sys.path.insert(0, str(REPO / "tests" / "local_stack"))
    import window_metrics_support as wm

    with (
        psycopg.connect(config.pg_dsn("PG_OWNER"), autocommit=True) as pg,
        wm.isolated_run(cfg, kafka_admin, pg) as run,
    ):
        replay = subprocess.run(
            [sys.executable, "-m", "include.ingest.replay", "--file", str(SAMPLE), "--topic", run.topic,
             "--dlq-topic", run.dlq_topic, "--replay-id", f"grafana_test_{run.token}", "--no-progress"],
            cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert replay.returncode == 0, replay.stdout[-2000:] + replay.stderr[-2000:]
        # The pipeline's own topics too: the DLQ-share and lag series are about them.
        replay = subprocess.run(
            [sys.executable, "-m", "include.ingest.replay", "--file", str(SAMPLE), "--replay-id",
             f"grafana_test_main_{run.token}", "--no-progress"],
            cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert replay.returncode == 0, replay.stdout[-2000:] + replay.stderr[-2000:]
        if not _running_job_with_checkpoint(cfg):
            job_id = wm.submit_job(cfg, run.job_args())
            wm.wait_running(cfg, job_id)
            wm.wait_for(lambda: wm.completed_checkpoints(cfg, job_id) >= 1, 180, "a completed checkpoint")
        # A live window (ends a minute ago) for the latency and freshness series; removed afterwards.
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
        inserted = pg.execute(
            "INSERT INTO realtime.ad_window_metrics (window_size_s, window_start, window_end, dimension, "
            "dimension_value, impressions, clicks, conversions, cost, revenue, ctr, cpc, cpa, roas) "
            "VALUES (60, %s, %s, 'all', '', 1, 0, 0, 0.01, 0, 0, NULL, NULL, 0) ON CONFLICT DO NOTHING",
            (start, start + timedelta(minutes=1)),
        ).rowcount
        try:
            yield
        finally:
            if inserted:
                pg.execute(
                    "DELETE FROM realtime.ad_window_metrics WHERE window_size_s = 60 AND window_start = %s "
                    "AND dimension = 'all' AND dimension_value = '' AND impressions = 1 AND cost = 0.01",
                    (start,),
                )


@pytest.mark.integration
def test_every_panel_query_answers_on_the_local_prometheus(cfg: dict[str, str], traffic: None) -> None:
    pending = {(d, t, e) for d, t, e in _queries()}
    errors: dict[tuple[str, str, str], str] = {}
    deadline = time.monotonic() + 150  # scrape (10 s) + rule evaluation (10 s) + rate windows
    while pending and time.monotonic() < deadline:
        for key in sorted(pending):
            body = _prom(cfg, key[2])
            if body.get("status") != "success":
                errors[key] = body.get("error", "query failed")
                pending.discard(key)
            elif body["data"]["result"]:
                pending.discard(key)
        if pending:
            time.sleep(5)
    assert not errors, "invalid PromQL:\n" + "\n".join(
        f"{d} / {t}: {e} -> {msg}" for (d, t, e), msg in errors.items()
    )
    assert not pending, "queries without data:\n" + "\n".join(
        f"{d} / {t}: {e}" for d, t, e in sorted(pending)
    )
