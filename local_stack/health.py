"""Real health checks of every local-stack component, used by ``make status`` and ``make up``.

Each check talks to the service the way a client would (a Kafka metadata request, a registry
query, Flink's /overview, Airflow's health endpoint...) rather than only opening a port.

    python local_stack/health.py                 # table of every component, exit 1 if any is down
    python local_stack/health.py --wait kafka    # block until kafka is healthy (or time out)
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from include import config


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


def _http_json(url: str, timeout: float = 3.0) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read() or b"null")


def _http_text(url: str, timeout: float = 3.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode(errors="replace")


def check_postgres(cfg: dict[str, str]) -> Health:
    res = subprocess.run(
        ["pg_isready", "-h", cfg["PG_HOST"], "-p", cfg["PG_PORT"], "-t", "3"],
        capture_output=True,
        text=True,
        check=False,
    )
    return Health(res.returncode == 0, res.stdout.strip() or res.stderr.strip())


def _resp(*words: str) -> bytes:
    encoded = [w.encode() for w in words]
    return f"*{len(encoded)}\r\n".encode() + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in encoded)


def check_redis(cfg: dict[str, str]) -> Health:
    with socket.create_connection((cfg["REDIS_HOST"], int(cfg["REDIS_PORT"])), timeout=3) as sock:
        if cfg["REDIS_PASSWORD"]:
            sock.sendall(_resp("AUTH", cfg["REDIS_PASSWORD"]))
            auth = sock.recv(256)
            if not auth.startswith(b"+OK"):
                return Health(False, f"AUTH refused: {auth.decode().strip()} (REDIS_PASSWORD in .env)")
        sock.sendall(_resp("PING"))
        reply = sock.recv(64)
    return Health(reply.startswith(b"+PONG"), reply.decode().strip())


def check_kafka(cfg: dict[str, str]) -> Health:
    from confluent_kafka.admin import AdminClient

    from include.kafka.client_conf import client_conf

    # log_level 0: while the broker starts, --wait polls it; a refused connection is the expected
    # answer then, and librdkafka would print each one to the terminal.
    admin = AdminClient(client_conf(cfg, extra={"socket.timeout.ms": 3000, "log_level": 0}))
    meta = admin.list_topics(timeout=5)
    user_topics = [t for t in meta.topics if not t.startswith("__")]
    return Health(bool(meta.brokers), f"{len(meta.brokers)} broker(s), {len(user_topics)} topic(s)")


def check_kafka_jmx(cfg: dict[str, str]) -> Health:
    text = _http_text(f"http://{cfg['BIND_HOST']}:{cfg['KAFKA_JMX_EXPORTER_PORT']}/metrics")
    return Health("kafka_server" in text, "JMX exporter serving broker metrics")


def check_schema_registry(cfg: dict[str, str]) -> Health:
    subjects = _http_json(f"{cfg['SCHEMA_REGISTRY_URL']}/subjects")
    return Health(isinstance(subjects, list), f"{len(subjects)} subject(s)")  # type: ignore[arg-type]


def check_flink(cfg: dict[str, str]) -> Health:
    overview = _http_json(f"{cfg['FLINK_REST_URL']}/overview")
    assert isinstance(overview, dict)
    tms, slots = overview.get("taskmanagers", 0), overview.get("slots-total", 0)
    running = overview.get("jobs-running", 0)
    return Health(tms >= 1, f"{tms} TaskManager(s), {slots} slot(s), {running} job(s) running")


def check_prometheus(cfg: dict[str, str]) -> Health:
    base = f"http://{cfg['BIND_HOST']}:{cfg['PROMETHEUS_PORT']}"
    ready = _http_text(f"{base}/-/ready")
    targets = _http_json(f"{base}/api/v1/targets?state=active")
    active = targets["data"]["activeTargets"]  # type: ignore[index]
    down = sorted({t["labels"]["job"] for t in active if t["health"] != "up"})
    detail = f"{len(active) - len(down)}/{len(active)} targets up" + (
        f" (down: {', '.join(down)})" if down else ""
    )
    return Health("Ready" in ready, detail)


def check_alertmanager(cfg: dict[str, str]) -> Health:
    ready = _http_text(f"http://{cfg['BIND_HOST']}:{cfg['ALERTMANAGER_PORT']}/-/ready")
    return Health("OK" in ready or ready == "", "ready")


def check_postgres_exporter(cfg: dict[str, str]) -> Health:
    text = _http_text(f"http://{cfg['BIND_HOST']}:{cfg['POSTGRES_EXPORTER_PORT']}/metrics")
    return Health("\npg_up 1" in text, "pg_up 1" if "\npg_up 1" in text else "pg_up is not 1")


def check_redis_exporter(cfg: dict[str, str]) -> Health:
    text = _http_text(f"http://{cfg['BIND_HOST']}:{cfg['REDIS_EXPORTER_PORT']}/metrics")
    return Health("\nredis_up 1" in text, "redis_up 1" if "\nredis_up 1" in text else "redis_up is not 1")


def check_pushgateway(cfg: dict[str, str]) -> Health:
    ready = _http_text(f"http://{cfg['BIND_HOST']}:{cfg['PUSHGATEWAY_PORT']}/-/ready")
    return Health("OK" in ready or ready == "", "ready")


def check_slack_sink(cfg: dict[str, str]) -> Health:
    return Health(
        _http_text(f"http://{cfg['BIND_HOST']}:{cfg['SLACK_SINK_PORT']}/health") == "ok", "recording"
    )


def check_pipeline_exporter(cfg: dict[str, str]) -> Health:
    text = _http_text(f"http://{cfg['BIND_HOST']}:{cfg['PIPELINE_EXPORTER_PORT']}/metrics")
    if "\npg_up 1" in text:
        return Health(True, "pg_up 1 (pipeline database, dashboard login)")
    # Serving, but the dashboard login only exists once the bootstrap DAG has run the migrations.
    return Health(True, "serving; pg_up 0 until the bootstrap DAG created the dashboard login")


def check_streamlit(cfg: dict[str, str]) -> Health:
    base = f"http://{cfg['BIND_HOST']}:{cfg['STREAMLIT_PORT']}"
    ok = _http_text(f"{base}/_stcore/health").strip() == "ok"
    return Health(ok, "serving the Live, Daily and Pipeline pages" if ok else "health endpoint not ok")


def check_airflow(cfg: dict[str, str]) -> Health:
    health = _http_json(f"{cfg['AIRFLOW_URL']}/api/v2/monitor/health")
    assert isinstance(health, dict)
    states = {name: part.get("status") for name, part in health.items() if isinstance(part, dict)}
    bad = [name for name, status in states.items() if status != "healthy"]
    return Health(not bad, "all healthy" if not bad else f"unhealthy: {', '.join(bad)}")


@dataclass(frozen=True)
class Component:
    name: str
    check: Callable[[dict[str, str]], Health]
    url: Callable[[dict[str, str]], str]


def _http(port_setting: str, path: str = "") -> Callable[[dict[str, str]], str]:
    """The URL of a component served on this host at the port a setting names."""
    return lambda c: f"http://{c['BIND_HOST']}:{c[port_setting]}{path}"


def _setting(name: str) -> Callable[[dict[str, str]], str]:
    return lambda c: c[name]


COMPONENTS: tuple[Component, ...] = (
    Component(
        "postgres", check_postgres, lambda c: f"postgresql://{c['PG_HOST']}:{c['PG_PORT']}/{c['PG_DATABASE']}"
    ),
    Component("redis", check_redis, lambda c: f"redis://{c['REDIS_HOST']}:{c['REDIS_PORT']}"),
    Component("kafka", check_kafka, _setting("KAFKA_BOOTSTRAP_SERVERS")),
    Component("kafka-jmx-exporter", check_kafka_jmx, _http("KAFKA_JMX_EXPORTER_PORT")),
    Component("schema-registry", check_schema_registry, _setting("SCHEMA_REGISTRY_URL")),
    Component("flink", check_flink, _setting("FLINK_REST_URL")),
    Component("prometheus", check_prometheus, _http("PROMETHEUS_PORT")),
    Component("alertmanager", check_alertmanager, _http("ALERTMANAGER_PORT")),
    Component("postgres-exporter", check_postgres_exporter, _http("POSTGRES_EXPORTER_PORT")),
    Component("redis-exporter", check_redis_exporter, _http("REDIS_EXPORTER_PORT")),
    Component("slack-sink", check_slack_sink, _http("SLACK_SINK_PORT", "/messages")),
    Component("pushgateway", check_pushgateway, _setting("PUSHGATEWAY_URL")),
    Component("pipeline-exporter", check_pipeline_exporter, _http("PIPELINE_EXPORTER_PORT")),
    Component("airflow", check_airflow, _setting("AIRFLOW_URL")),
    Component("streamlit", check_streamlit, _setting("STREAMLIT_URL")),
)
BY_NAME = {c.name: c for c in COMPONENTS}


def probe(component: Component, cfg: dict[str, str]) -> Health:
    try:
        return component.check(cfg)
    except Exception as exc:  # any failure to talk to the service means "down", with the reason
        return Health(False, f"{type(exc).__name__}: {exc}"[:120])


def wait(names: list[str], timeout: float) -> int:
    cfg = config.resolve()
    deadline = time.monotonic() + timeout
    for name in names:
        component = BY_NAME[name]
        while True:
            health = probe(component, cfg)
            if health.ok:
                print(f"  {name}: healthy ({health.detail})", file=sys.stderr)
                break
            if time.monotonic() > deadline:
                print(f"  {name}: NOT healthy after {timeout:.0f}s: {health.detail}", file=sys.stderr)
                print(f"  see data/logs/ (make logs) for {name}'s log", file=sys.stderr)
                return 1
            time.sleep(1)
    return 0


def status() -> int:
    cfg = config.resolve()
    results = [(c, probe(c, cfg)) for c in COMPONENTS]
    width = max(len(c.name) for c in COMPONENTS)
    for component, health in results:
        mark = "\033[32mUP  \033[0m" if health.ok else "\033[31mDOWN\033[0m"
        print(f"{mark} {component.name:<{width}}  {component.url(cfg):<48} {health.detail}")
    down = [c.name for c, h in results if not h.ok]
    if down:
        print(f"\n{len(down)} component(s) down: {', '.join(down)}. Start with `make up`; logs: `make logs`.")
    return 1 if down else 0


def main() -> int:
    parser = argparse.ArgumentParser(description="Health of the local stack.")
    parser.add_argument("--wait", nargs="+", choices=sorted(BY_NAME), help="block until these are healthy")
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()
    return wait(args.wait, args.timeout) if args.wait else status()


if __name__ == "__main__":
    sys.exit(main())
