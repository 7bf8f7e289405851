"""Redis requires REDIS_PASSWORD of every client; the stack's own clients have it, and no process of
the stack shows a secret on its command line (which every user of the machine can read)."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest
import redis
import requests

from include import config

pytestmark = pytest.mark.integration


def test_redis_refuses_a_client_without_the_password(cfg: dict[str, str]) -> None:
    assert len(cfg["REDIS_PASSWORD"]) >= 16, "REDIS_PASSWORD is not generated into .env"
    anonymous = redis.Redis(host=cfg["REDIS_HOST"], port=int(cfg["REDIS_PORT"]), socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        anonymous.ping()
    guessed = redis.Redis(
        host=cfg["REDIS_HOST"], port=int(cfg["REDIS_PORT"]), password="guess", socket_timeout=5
    )
    with pytest.raises(redis.AuthenticationError):
        guessed.ping()
    assert redis.Redis.from_url(config.redis_url(cfg), socket_timeout=5).ping()


def test_the_redis_exporter_scrapes_with_the_password(cfg: dict[str, str]) -> None:
    url = f"http://{cfg['BIND_HOST']}:{cfg['REDIS_EXPORTER_PORT']}/metrics"
    up = [line for line in requests.get(url, timeout=10).text.splitlines() if line.startswith("redis_up ")]
    assert up == ["redis_up 1"], up


def test_no_stack_process_has_a_secret_on_its_command_line(cfg: dict[str, str]) -> None:
    secrets = {s.name: v for s in config.SETTINGS if s.secret and len(v := cfg[s.name]) >= 8}
    supervisor = psutil.Process(int((Path(cfg["DATA_DIR"]) / "run" / "supervisord.pid").read_text()))
    leaks = []
    for proc in [supervisor, *supervisor.children(recursive=True)]:
        try:
            cmdline = " ".join(proc.cmdline())
        except psutil.Error:
            continue  # gone meanwhile
        leaks += [f"{proc.name()} (pid {proc.pid}): {name}" for name, v in secrets.items() if v in cmdline]
    assert not leaks, "secrets on command lines: " + "; ".join(leaks)
