"""End-to-end latency benchmark (``make bench`` section ``latency``): a live replay, produce -> Redis
-> the Live page.

A generated hour (``--latency-rate`` events per second, default 100) is replayed at live pace by the
replay CLI (``--pace live``: event times re-based to now, each event published when the clock
reaches it) into a private topic, read by the job as deployed (private sink table, Redis prefix
and archive), for ``--latency-minutes`` (default 10). A private Streamlit of the dashboard reads
the private prefix with the default refresh (DASHBOARD_REFRESH_S), open in headless Chromium.

For every 1-minute window that closes during the run:

- **closing moment**: a window is emitted once the watermark passes its end, that is once every
  partition holds a record with event time >= end + JOB_WATERMARK_DELAY_MS - 1 (the job's bound
  on out-of-order events). The moment is read from the records themselves: Kafka's CreateTime,
  stamped by the producer when it produced the record, of the first such record of each
  partition; the latest of the partitions';
- **in Redis**: the first poll (every 50 ms) of the window index that lists the window;
- **on the page**: the first look (every 100 ms) at the Live page whose "Last 1m window" is it.

``e2e_redis_ms`` = in Redis - closing; ``e2e_dashboard_ms`` = on the page - closing, p50/p99/max.

Why from the closing record and not from each event: an event waits in its window until the window
ends and the out-of-orderness bound has passed (up to 65 s for a 1-minute window), by design. That
wait is the window's definition; what the pipeline adds after it is what is measured here.

Run: ``local_stack/bin/run.sh .venvs/airflow/bin/python -m bench.run latency``.
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.realtime import _percentile, _Private, _wait_running
from include import config
from include.flink_jobs.ad_window_metrics.redis_cache import index_key
from include.ingest.end_of_input import JOB_WATERMARK_DELAY_MS
from include.ingest.generator import generate
from include.kafka.client_conf import client_conf

REPO = Path(__file__).resolve().parent.parent
WINDOW_MS = 60_000
PAGE_WINDOW = re.compile(r"Last 1m window · (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC")


class _Poller(threading.Thread):
    """Calls ``look()`` every ``every_s`` until stopped; ``look`` records what it sees."""

    def __init__(self, look: Callable[[], None], every_s: float) -> None:
        super().__init__(daemon=True)
        self.look, self.every_s, self.stop = look, every_s, threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            try:
                self.look()
            except Exception as exc:  # a failed look is kept; the next one may work
                self.errors.append(f"{type(exc).__name__}: {exc}")


def _records(cfg: dict[str, str], topic: str, stop: threading.Event) -> dict[int, list[tuple[int, int]]]:
    """Every record of ``topic`` as (event time, CreateTime) per partition, in offset order."""
    import orjson
    from confluent_kafka import Consumer

    consumer = Consumer(client_conf(cfg, extra={"group.id": f"{topic}_latency", "auto.offset.reset": "earliest",
                                                "enable.auto.commit": False}))  # fmt: skip
    consumer.subscribe([topic])
    seen: dict[int, list[tuple[int, int]]] = {}
    idle_after_stop = 0
    try:
        while idle_after_stop < 3:
            batch = consumer.consume(10_000, 1.0)
            if not batch and stop.is_set():
                idle_after_stop += 1
            for msg in batch:
                if msg.error() is None:
                    event_time = orjson.loads(msg.value()).get("event_time")
                    if isinstance(event_time, int):
                        seen.setdefault(msg.partition(), []).append((event_time, msg.timestamp()[1]))
    finally:
        consumer.close()
    return seen


def closing_moments(records: dict[int, list[tuple[int, int]]], window_ends: list[int]) -> dict[int, int]:
    """For each window end, the CreateTime (ms) at which every partition had a record that moves
    the watermark past it; a window some partition never got that far for is left out."""
    out: dict[int, int] = {}
    for end in window_ends:
        threshold = end + JOB_WATERMARK_DELAY_MS - 1
        firsts = [next((ts for et, ts in recs if et >= threshold), None) for recs in records.values()]
        if firsts and all(ts is not None for ts in firsts):
            out[end] = max(firsts)  # type: ignore[type-var]
    return out


def _summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"windows": 0}
    return {
        "windows": len(values),
        "p50": round(statistics.median(values)),
        "p99": round(_percentile(values, 0.99)),
        "max": round(max(values)),
    }


def _streamlit(cfg: dict[str, str], prefix: str, log: Path) -> tuple[subprocess.Popen, str]:
    import socket

    import requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO), "REDIS_WINDOW_PREFIX": prefix, "STREAMLIT_PORT": str(port)}
    proc = subprocess.Popen(
        [str(REPO / ".venvs/airflow/bin/streamlit"), "run", str(REPO / "dashboard/app.py"),
         "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        env=env, cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if requests.get(f"{base}/_stcore/health", timeout=2).text.strip() == "ok":
                return proc, base
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the bench's Streamlit did not start: {log.read_text()[-2000:]}")
        time.sleep(0.5)


def run(minutes: float = 10, rate: int = 100) -> dict[str, Any]:
    import redis
    from playwright.sync_api import sync_playwright

    cfg = config.resolve()
    path = Path(cfg["DATA_DIR"]) / "bench" / f"latency_{rate}_per_s.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        generate(path, rate * 3600, "14102300", 1, seed=20141025, progress=False)

    private = _Private(cfg)
    client = redis.Redis(
        host=cfg["REDIS_HOST"], port=int(cfg["REDIS_PORT"]), password=cfg["REDIS_PASSWORD"] or None
    )
    in_redis: dict[int, float] = {}
    on_page: dict[int, float] = {}
    stop = threading.Event()
    records: dict[int, list[tuple[int, int]]] = {}
    streamlit = replay = None
    try:
        job_id = private.submit()
        _wait_running(cfg, job_id)
        streamlit, base = _streamlit(cfg, private.name, private.archive / "streamlit.log")

        def look_in_redis() -> None:
            now = time.time() * 1000
            for start in client.zrange(index_key(private.name, 60), 0, -1):
                in_redis.setdefault(int(start) + WINDOW_MS, now)

        reader = threading.Thread(
            target=lambda: records.update(_records(cfg, private.topic, stop)), daemon=True
        )
        reader.start()
        redis_poller = _Poller(look_in_redis, 0.05)
        redis_poller.start()
        env = {**os.environ, "PYTHONPATH": str(REPO), "TOPIC_RAW_EXTRA": private.topic,
               "TOPIC_DLQ_EXTRA": private.dlq, "PUSHGATEWAY_URL": ""}  # fmt: skip
        replay = subprocess.Popen(
            [sys.executable, "-m", "include.ingest.replay", "--file", str(path), "--pace", "live",
             "--topic", private.topic, "--dlq-topic", private.dlq, "--no-progress"],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=(private.archive / "replay.log").open("w"),
        )  # fmt: skip
        started = time.time() * 1000
        with sync_playwright() as p:
            chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--headless=new"])
            page = browser.new_page(viewport={"width": 1500, "height": 1200})
            page.goto(f"{base}/")
            deadline = time.monotonic() + minutes * 60
            while time.monotonic() < deadline:
                if replay.poll() is not None:
                    raise RuntimeError(
                        f"the live replay stopped: {(private.archive / 'replay.log').read_text()[-2000:]}"
                    )
                now = time.time() * 1000
                for text in page.locator("h3").all_inner_texts():
                    if shown := PAGE_WINDOW.search(text):
                        start = datetime.strptime(shown.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
                        on_page.setdefault(int(start.timestamp() * 1000) + WINDOW_MS, now)
                page.wait_for_timeout(100)
            browser.close()
        ended = time.time() * 1000
        replay.send_signal(signal.SIGINT)
        try:
            replay.wait(30)
        except subprocess.TimeoutExpired:  # what it published is all the bench reads
            replay.kill()
        stop.set()
        redis_poller.stop.set()
        reader.join(120)
    finally:
        stop.set()
        if replay and replay.poll() is None:
            replay.kill()
        if streamlit:
            streamlit.terminate()
            streamlit.wait(15)
        private.close()

    # Windows that closed while everything was watched (not the first: the page opened mid-window).
    ends = [e for e in sorted(in_redis) if e > started + WINDOW_MS]
    closing = closing_moments(records, ends)
    redis_ms = [in_redis[e] - closing[e] for e in ends if e in closing]
    page_ms = [on_page[e] - closing[e] for e in ends if e in closing and e in on_page and on_page[e] < ended]
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "minutes": minutes,
        "events_per_s": rate,
        "refresh_s": float(cfg["DASHBOARD_REFRESH_S"]),
        "watermark_delay_ms": JOB_WATERMARK_DELAY_MS,
        "e2e_redis_ms": _summary(redis_ms),
        "e2e_dashboard_ms": _summary(page_ms),
        "poll_errors": redis_poller.errors[:5],
        "target": {"e2e_redis_ms_p99": 3000},
    }
