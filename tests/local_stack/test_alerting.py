"""Alerts reach Slack as people read them: a real Prometheus alert fires through Alertmanager, and a
resolved one says RESOLVED without the firing summary; every link is ALERTMANAGER_EXTERNAL_URL."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from stack_support import supervisorctl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Long enough for Alertmanager to send the alert firing first (group_wait 10 s), even when slow.
ALERT_LIFETIME_S = 40


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _attachments(sink: str, since: float, title: str) -> list[dict[str, Any]]:
    """The Slack attachments Alertmanager posted to the sink since ``since`` with this title."""
    return [
        attachment
        for message in requests.get(sink, timeout=5).json()
        if message["received_at"] >= _iso(since)
        for attachment in message["payload"].get("attachments", [])
        if attachment.get("title") == title
    ]


@dataclass(frozen=True)
class _Alerts:
    """What the module set going at once, so the tests share one wait for Alertmanager's timers."""

    started: float
    resolved_check: str  # a synthetic alert that fires, then ends by itself
    escape_check: str  # a synthetic alert whose summary and label hold Slack controls


@pytest.fixture(scope="module")
def alerts(cfg) -> Iterator[_Alerts]:
    """Posts two synthetic alerts to Alertmanager's API as Prometheus does, and stops the redis
    exporter for the real ScrapeTargetDown alert (~2 minutes); both alerts end by their endsAt,
    after Alertmanager has sent them firing (group_wait 10 s), and it sends them resolved at its
    next flush (group_interval 1 min). Each alert name is its own group (route group_by alertname)."""
    api = f"http://{cfg['BIND_HOST']}:{cfg['ALERTMANAGER_PORT']}/api/v2/alerts"
    started = time.time()
    suffix = uuid.uuid4().hex[:6]
    posted = _Alerts(started, f"SlackResolvedCheck_{suffix}", f"SlackEscapeCheck_{suffix}")
    ends = _iso(started + ALERT_LIFETIME_S)
    requests.post(
        api,
        json=[
            {
                "labels": {"alertname": posted.resolved_check, "job": "test_alerting", "severity": "info"},
                "annotations": {
                    "summary": "synthetic problem, still ongoing (tests/local_stack/test_alerting.py)"
                },
                "startsAt": _iso(started),
                "endsAt": ends,
            },
            {
                "labels": {"alertname": posted.escape_check, "job": "<!channel>", "severity": "info"},
                "annotations": {"summary": "topic <!here> & <http://evil.example|click here>"},
                "startsAt": _iso(started),
                "endsAt": ends,
            },
        ],
        timeout=10,
    ).raise_for_status()
    supervisorctl(cfg, "stop", "redis-exporter")
    try:
        yield posted
    finally:
        supervisorctl(cfg, "start", "redis-exporter")


def test_exporter_down_alert_reaches_slack_and_a_resolved_alert_says_resolved(cfg, alerts):
    sink = f"http://{cfg['BIND_HOST']}:{cfg['SLACK_SINK_PORT']}/messages"
    external = cfg["ALERTMANAGER_EXTERNAL_URL"]
    check, started = alerts.resolved_check, alerts.started
    deadline = time.monotonic() + 240
    down, fired, resolved = [], [], []
    while not (down and resolved) and time.monotonic() < deadline:
        time.sleep(5)
        down = [a for a in _attachments(sink, started, "FIRING: ScrapeTargetDown") if "redis" in a["text"]]
        fired = fired or _attachments(sink, started, f"FIRING: {check}")
        resolved = _attachments(sink, started, f"RESOLVED: {check}")
    assert down, "no ScrapeTargetDown alert for redis reached the Slack sink within 4 minutes"
    assert fired, f"no FIRING {check} reached the Slack sink"
    assert resolved, f"no RESOLVED {check} reached the Slack sink"

    firing = down[0]
    assert "make status" in firing["text"] and firing["color"] == "danger"
    assert firing["title_link"] == f"{external}/#/alerts?receiver=slack"
    assert firing["fallback"] == f"FIRING: ScrapeTargetDown | {external}"

    done = resolved[0]
    assert done["color"] == "good" and done["title_link"] == f"{external}/#/alerts?receiver=slack"
    assert done["fallback"] == f"RESOLVED: {check} | {external}"
    assert re.fullmatch(
        rf":white_check_mark: RESOLVED at \d\d:\d\d UTC: {check} job=test_alerting is back to normal "
        r"\(firing since \d{4}-\d\d-\d\d \d\d:\d\d UTC\)\.",
        done["text"].strip(),
    ), done["text"]
    assert "ongoing" not in done["text"], "a resolved alert does not repeat the firing summary"


def test_alert_text_from_labels_and_summaries_reaches_slack_escaped(cfg, alerts):
    """A summary and a label value hold Slack controls (a scraped topic or job name can): the sink gets
    them escaped, so Slack shows them as text instead of notifying the channel or hiding a link."""
    sink = f"http://{cfg['BIND_HOST']}:{cfg['SLACK_SINK_PORT']}/messages"
    check, started = alerts.escape_check, alerts.started
    deadline = time.monotonic() + 150
    firing, resolved = [], []
    while not resolved and time.monotonic() < deadline:
        firing = firing or _attachments(sink, started, f"FIRING: {check}")
        resolved = _attachments(sink, started, f"RESOLVED: {check}")
        if not resolved:
            time.sleep(3)
    assert firing, f"no FIRING {check} reached the Slack sink"
    assert firing[0]["text"].strip() == "topic &lt;!here&gt; &amp; &lt;http://evil.example|click here&gt;"
    assert resolved, f"no RESOLVED {check} reached the Slack sink"
    assert f"{check} job=&lt;!channel&gt; is back to normal" in resolved[0]["text"]
    assert "<!" not in firing[0]["text"] + resolved[0]["text"]
