"""The Grafana dashboards: their definitions (local_stack/monitoring/dashboards/, templates) and the
compose renderings Grafana is provisioned with (local_stack/docker/grafana/) are well-formed, on the
provisioned data source, and every panel's PromQL, rendered with this stack's settings (topic and
Flink job names), answers with data on the live local Prometheus once there is traffic (a short
replay of the sample, the pipeline's Flink job with a checkpoint, a live window)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
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
SOURCES = sorted((REPO / "local_stack" / "monitoring" / "dashboards").glob("*.json"))
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
SAMPLE = REPO / "samples" / "avazu_sample_100.csv"

# The renderer of local_stack/conf/ and local_stack/monitoring/ (a script, not a package).
sys.path.insert(0, str(REPO / "local_stack" / "bin"))
import render_configs  # noqa: E402


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # collapsed rows keep their panels inside
    return out


def _queries(cfg: dict[str, str]) -> list[tuple[str, str, str]]:
    """(dashboard, panel, PromQL) of every definition as rendered with this stack's settings."""
    values = render_configs.local_values(cfg)
    return [
        (path.name, panel["title"], target["expr"])
        for path in SOURCES
        for panel in _panels(json.loads(render_configs.substitute(path, values)))
        for target in panel.get("targets", [])
    ]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_well_formed(path: Path) -> None:
    dash = json.loads(path.read_text())
    provisioned = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    uids = {d["uid"] for d in provisioned["datasources"]}
    assert dash["uid"] and dash["title"]
    panels = _panels(dash)
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
    dash = json.loads((GRAFANA / "dashboards/pipeline-health.json").read_text())
    rows = {p["title"] for p in _panels(dash) if p["type"] == "row"}
    assert rows >= {"Throughput", "Latency", "Error rate", "Consumer lag", "Checkpoints", "Resource use"}


def test_every_dashboard_is_rendered_for_compose() -> None:
    assert [p.name for p in SOURCES] == [p.name for p in DASHBOARDS]


def test_panels_take_the_pipeline_names_from_the_settings() -> None:
    """The pipeline's topics and Flink job are settings in every definition, never written out."""
    defaults = config.resolve({})
    text = " ".join(p.read_text() for p in SOURCES)
    for name in ("TOPIC_RAW", "TOPIC_DLQ", "FLINK_JOB_NAME"):
        assert f"${{{name}}}" in text, f"no panel query uses {name}"
        assert defaults[name] not in text, f"a dashboard names {defaults[name]}: use ${{{name}}}"


# ------------------------------------------------------------------------------------ live queries


def _prom(cfg: dict[str, str], expr: str) -> dict[str, Any]:
    resp = requests.get(f"{cfg['PROMETHEUS_URL']}/api/v1/query", params={"query": expr}, timeout=10)
    return resp.json()


def _running_job_with_checkpoint(cfg: dict[str, str]) -> bool:
    jobs = requests.get(f"{cfg['FLINK_REST_URL']}/jobs/overview", timeout=10).json()["jobs"]
    for job in jobs:
        if job["state"] == "RUNNING" and job["name"] == cfg["FLINK_JOB_NAME"]:
            counts = requests.get(f"{cfg['FLINK_REST_URL']}/jobs/{job['jid']}/checkpoints", timeout=10).json()
            if counts.get("counts", {}).get("completed", 0) > 0:
                return True
    return False


@pytest.fixture(scope="module")
def traffic(cfg: dict[str, str], bootstrapped: Any) -> Iterator[None]:
    """Replay the sample into the pipeline's topics, wait until the pipeline's Flink job (deployed by
    the bootstrap DAG) has completed a checkpoint, and put one live window into the real table."""
    import psycopg

    sys.path.insert(0, str(REPO / "tests" / "local_stack"))
    import window_metrics_support as wm

    with psycopg.connect(config.pg_dsn("PG_OWNER"), autocommit=True) as pg:
        replay = subprocess.run(
            [sys.executable, "-m", "include.ingest.replay", "--file", str(SAMPLE), "--replay-id",
             f"grafana_test_{uuid.uuid4().hex[:8]}", "--no-progress"],
            cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert replay.returncode == 0, replay.stdout[-2000:] + replay.stderr[-2000:]
        # The panels show the pipeline's job only (FLINK_JOB_NAME), as the alerts do.
        wm.wait_for(
            lambda: _running_job_with_checkpoint(cfg),
            180,
            f"{cfg['FLINK_JOB_NAME']} running with a checkpoint",
        )
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
    pending = set(_queries(cfg))
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
