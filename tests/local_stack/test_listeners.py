"""Every port the local stack opens is on the loopback interface, except the documented exceptions.

Exceptions (docs/operations.md, "Ports"): Flink's Prometheus reporter has no bind-address option,
and PyFlink's TaskManager opens gRPC servers for Python workers on ephemeral ports of all interfaces.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
EPHEMERAL_FROM = 32768


def _stack_processes(cfg: dict[str, str]) -> list[psutil.Process]:
    pidfile = Path(cfg["DATA_DIR"]) / "run" / "supervisord.pid"
    supervisor = psutil.Process(int(pidfile.read_text()))
    return [supervisor, *supervisor.children(recursive=True)]


def _is_loopback(host: str) -> bool:
    address = ipaddress.ip_address(host)
    mapped = getattr(address, "ipv4_mapped", None)  # Java binds 127.0.0.1 as ::ffff:127.0.0.1
    return (mapped or address).is_loopback


def _is_taskmanager(proc: psutil.Process) -> bool:
    try:
        return any("TaskManagerRunner" in part for part in proc.cmdline())
    except psutil.Error:
        return False


def test_stack_listens_on_loopback_only(bootstrapped, cfg):
    flink_metrics = {int(cfg["FLINK_JM_METRICS_PORT"]), int(cfg["FLINK_TM_METRICS_PORT"])}
    procs = {p.pid: p for p in _stack_processes(cfg)}
    listening, exposed = 0, []
    for conn in psutil.net_connections(kind="inet"):
        if conn.status != psutil.CONN_LISTEN or conn.pid not in procs:
            continue
        listening += 1
        host, port = conn.laddr.ip, conn.laddr.port
        if _is_loopback(host):
            continue
        if port in flink_metrics:
            continue
        if port >= EPHEMERAL_FROM and _is_taskmanager(procs[conn.pid]):
            continue
        exposed.append(f"{procs[conn.pid].name()} (pid {conn.pid}) on {host}:{port}")
    assert listening >= 10, f"found only {listening} listening sockets: is the stack up?"
    assert not exposed, "listening beyond loopback: " + "; ".join(exposed)


def test_every_fixed_port_is_a_setting(bootstrapped, cfg):
    """Two stacks on one machine need nothing but a shifted .env: no port below the ephemeral range is
    opened unless a *_PORT setting names it."""
    configured = {int(v) for k, v in cfg.items() if k.endswith("_PORT") and v.isdigit()}
    procs = {p.pid: p for p in _stack_processes(cfg)}
    unconfigured = sorted(
        f"{procs[c.pid].name()} (pid {c.pid}) on {c.laddr.ip}:{c.laddr.port}"
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
        and c.pid in procs
        and c.laddr.port < EPHEMERAL_FROM
        and c.laddr.port not in configured
    )
    assert not unconfigured, "fixed ports no setting declares: " + "; ".join(unconfigured)
