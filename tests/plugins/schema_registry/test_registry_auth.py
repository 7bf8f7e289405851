"""Basic auth reaches the schema registry: the settings' user (CLI, producer, DLQ retry, topic audit)
and the Airflow connection's login (the hook) arrive as an Authorization header at a registry that
asks for one. The registry stand-in is a local HTTP server that records what it is sent."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from include import config
from include.schema_registry import SchemaRegistryClient, registry_conf


class RecordingRegistry(BaseHTTPRequestHandler):
    seen: list[str | None] = []

    def do_GET(self) -> None:
        RecordingRegistry.seen.append(self.headers.get("Authorization"))
        body = json.dumps(["ad_events_raw-value"]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def registry_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RecordingRegistry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    RecordingRegistry.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/apis/ccompat/v7"
    finally:
        server.shutdown()
        server.server_close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_no_user_sends_no_credentials(registry_url, monkeypatch):
    monkeypatch.setenv("SCHEMA_REGISTRY_USERNAME", "")
    assert "basic.auth.user.info" not in registry_conf(registry_url)
    assert SchemaRegistryClient(registry_url).get_subjects() == ["ad_events_raw-value"]
    assert RecordingRegistry.seen == [None]


def test_the_settings_user_is_sent_by_every_client(registry_url, monkeypatch):
    monkeypatch.setenv("SCHEMA_REGISTRY_USERNAME", "reader")
    monkeypatch.setenv("SCHEMA_REGISTRY_PASSWORD", "pa:ss")
    assert registry_conf(registry_url)["basic.auth.user.info"] == "reader:pa:ss"
    SchemaRegistryClient(registry_url).get_subjects()
    assert RecordingRegistry.seen == [basic("reader", "pa:ss")]


def test_the_hook_sends_its_connections_login(registry_url, monkeypatch):
    from plugins.schema_registry.hooks import SchemaRegistryHook

    monkeypatch.setenv("SCHEMA_REGISTRY_USERNAME", "")
    conn = {"conn_type": "http", "host": registry_url, "login": "airflow", "password": "s3cret"}
    monkeypatch.setenv("AIRFLOW_CONN_SCHEMA_REGISTRY", json.dumps(conn))
    assert SchemaRegistryHook().test_connection()[0]
    assert RecordingRegistry.seen == [basic("airflow", "s3cret")]


def test_the_airflow_connection_is_derived_with_the_settings_user(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_SCHEMA_REGISTRY", raising=False)
    cfg = config.resolve({"SCHEMA_REGISTRY_USERNAME": "reader", "SCHEMA_REGISTRY_PASSWORD": "pw"})
    conn = json.loads(config.airflow_connections(cfg)["AIRFLOW_CONN_SCHEMA_REGISTRY"])
    assert (conn["login"], conn["password"]) == ("reader", "pw")
    conn = json.loads(config.airflow_connections(config.resolve({}))["AIRFLOW_CONN_SCHEMA_REGISTRY"])
    assert "login" not in conn
