"""A local stand-in for Slack's incoming-webhook endpoint.

Until a real ``SLACK_WEBHOOK_URL`` is set in ``.env``, Airflow's failure notifier and Alertmanager
post here: every payload is appended, with its path and arrival time, to a JSON-lines file, so an
operator can read the alerts (``tail -f data/slack/messages.jsonl``) and tests can assert on real
payloads. ``GET /messages`` returns them all; ``DELETE /messages`` empties the file.
"""

from __future__ import annotations

import argparse
import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_lock = threading.Lock()


def make_handler(out: Path) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                self._reply(400, b"invalid_payload")
                return
            record = {"received_at": datetime.now(UTC).isoformat(), "path": self.path, "payload": payload}
            with _lock, out.open("a") as fh:
                fh.write(json.dumps(record) + "\n")
            self._reply(200, b"ok")

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/health":
                self._reply(200, b"ok")
                return
            with _lock:
                lines = out.read_text().splitlines() if out.exists() else []
            body = json.dumps([json.loads(line) for line in lines]).encode()
            self._reply(200, body, "application/json")

        def do_DELETE(self) -> None:
            with _lock:
                out.write_text("")
            self._reply(200, b"ok")

        def _reply(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: object) -> None:
            print(f"slack-sink: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.out))
    print(f"slack-sink: listening on http://{args.host}:{args.port}, writing {args.out}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
