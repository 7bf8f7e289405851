"""A stand-in for Slack's incoming-webhook endpoint, for the local stack and docker-compose.yaml.

Until a real webhook is set (``SLACK_WEBHOOK_URL`` in ``.env``; in compose
``DOCKER_SLACK_WEBHOOK_BASE``/``_PATH``), Airflow's failure notifier and Alertmanager post here: every
payload is appended, with its path and arrival time, to a JSON-lines file, so an operator can read
the alerts (``tail -f data/slack/messages.jsonl``) and tests can assert on real payloads.
``GET /messages`` returns them all, ``DELETE /messages`` empties the file (``?since=ISO-TIME``: only
the messages received from then on, how a test run takes back what it caused), ``GET /health``
answers ``ok``. Standard library only: compose runs it on the plain python image (mounted, not copied).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

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

        def do_DELETE(self) -> None:
            path, _, query = self.path.partition("?")
            if path.rstrip("/") != "/messages":
                self._reply(404, b"not_found")
                return
            since = parse_qs(query).get("since", [""])[0]
            with _lock:
                lines = out.read_text().splitlines() if out.exists() and since else []
                # ISO-8601 UTC times of one format compare as text.
                kept = [line for line in lines if json.loads(line)["received_at"] < since]
                out.write_text("".join(f"{line}\n" for line in kept))
            self._reply(200, b"ok")

        def _reply(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: object) -> None:
            print(f"slack-sink: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}", flush=True)

    return Handler


def _drop_privileges(out: Path, uid: int) -> None:
    # Started as root only to own the (root-created) compose volume: serve as an unprivileged user.
    os.chown(out.parent, uid, uid)
    if out.exists():
        os.chown(out, uid, uid)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file of received payloads")
    parser.add_argument("--run-as", type=int, help="uid (and gid) to drop to once --out's folder is ready")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.run_as is not None and os.getuid() == 0:
        _drop_privileges(args.out, args.run_as)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.out))
    print(f"slack-sink: listening on http://{args.host}:{args.port}, writing {args.out}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
