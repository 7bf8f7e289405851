"""The local Slack sink takes back only what came after a moment (how a test run cleans up after itself)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

import requests

from local_stack.slack_sink import make_handler


def test_delete_since_keeps_what_came_before(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(tmp_path / "messages.jsonl"))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        requests.post(f"{base}/services/x", json={"text": "the pipeline's"}, timeout=5).raise_for_status()
        time.sleep(0.01)
        since = datetime.now(UTC).isoformat()
        requests.post(f"{base}/services/x", json={"text": "a test's"}, timeout=5).raise_for_status()
        requests.delete(f"{base}/messages", params={"since": since}, timeout=5).raise_for_status()
        texts = [m["payload"]["text"] for m in requests.get(f"{base}/messages", timeout=5).json()]
        assert texts == ["the pipeline's"]
        requests.delete(f"{base}/messages", timeout=5).raise_for_status()  # no since: everything
        assert requests.get(f"{base}/messages", timeout=5).json() == []
    finally:
        server.shutdown()
