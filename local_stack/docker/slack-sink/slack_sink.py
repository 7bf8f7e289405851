"""Stand-in for Slack's incoming webhook in docker-compose.yaml (service ``slack-sink``).

Airflow's failure callback and Alertmanager post here until DOCKER_SLACK_WEBHOOK_BASE/_PATH in
``.env`` point at the real Slack: every payload is appended, with its path and arrival time, to a
JSON-lines file. ``GET /messages`` returns them, ``GET /health`` answers ``ok``. Standard library
only: it runs on the plain python image.
"""

from __future__ import annotations

import argparse
import json
import os
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
            path = self.path.rstrip("/")
            if path == "/health":
                self._reply(200, b"ok")
            elif path == "/messages":
                with _lock:
                    lines = out.read_text().splitlines() if out.exists() else []
                body = json.dumps([json.loads(line) for line in lines]).encode()
                self._reply(200, body, "application/json")
            else:
                self._reply(404, b"not_found")

        def _reply(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: object) -> None:  # one line per request on stdout
            print(f"{self.address_string()} {fmt % args}", flush=True)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file of received payloads")
    parser.add_argument("--run-as", type=int, help="uid (and gid) to drop to once --out's folder is ready")
    args = parser.parse_args()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.out))
    if args.run_as is not None and os.getuid() == 0:
        # Started as root only to own the (root-created) volume: serve as an unprivileged user.
        os.chown(args.out.parent, args.run_as, args.run_as)
        if args.out.exists():
            os.chown(args.out, args.run_as, args.run_as)
        os.setgroups([])
        os.setgid(args.run_as)
        os.setuid(args.run_as)
    print(f"slack-sink: listening on {args.host}:{args.port}, writing {args.out}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
