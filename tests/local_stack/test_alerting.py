"""An induced failure fires a real Prometheus alert that Alertmanager delivers to Slack."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import requests

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _supervisorctl(cfg, *args: str) -> None:
    conf = Path(cfg["DATA_DIR"]) / "run/conf/supervisord.conf"
    subprocess.run(
        [str(REPO / ".venvs/airflow/bin/supervisorctl"), "-c", str(conf), *args], check=True, timeout=60
    )


def test_exporter_down_alert_reaches_slack(cfg):
    sink = f"http://{cfg['BIND_HOST']}:{cfg['SLACK_SINK_PORT']}/messages"
    started = time.time()
    _supervisorctl(cfg, "stop", "redis-exporter")
    try:
        deadline = time.monotonic() + 240
        found = None
        while found is None and time.monotonic() < deadline:
            time.sleep(5)
            for message in requests.get(sink, timeout=5).json():
                text = json.dumps(message["payload"])
                received = message["received_at"]
                if (
                    "ScrapeTargetDown" in text
                    and "redis" in text
                    and "firing" in text
                    and received >= _iso(started)
                ):
                    found = message
                    break
        assert found, "no ScrapeTargetDown alert for redis reached the Slack sink within 4 minutes"
        attachment = found["payload"]["attachments"][0]
        assert "ScrapeTargetDown (firing)" in attachment["title"]
        assert "make status" in attachment["text"]
    finally:
        _supervisorctl(cfg, "start", "redis-exporter")


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()
