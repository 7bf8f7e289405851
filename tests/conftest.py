"""Shared fixtures. Integration tests talk to the real local stack that `make test` starts."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from include import config  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that restart the whole stack run last, so they never pull it from under another test;
    audits of what the whole suite left behind run after them."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("runs_last") is not None,
            item.get_closest_marker("restarts_stack") is not None,
        )
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "restarts_stack: stops and starts the local stack or a part of it (runs last)"
    )
    config.addinivalue_line("markers", "runs_last: checks what the whole suite left behind (runs after all)")


@pytest.fixture(scope="session")
def cfg() -> dict[str, str]:
    return config.resolve()


@pytest.fixture(scope="session", autouse=True)
def _slack_as_found() -> Iterator[None]:
    """Takes back from the local Slack sink what the tests caused (failed test runs, test alerts):
    whoever reads it after `make test` sees only the pipeline's own messages. A real webhook is
    never touched."""
    started = datetime.now(UTC).isoformat()
    yield
    import requests

    cfg = config.resolve()
    sink = f"http://127.0.0.1:{cfg['SLACK_SINK_PORT']}"
    if not cfg["SLACK_WEBHOOK_URL"].startswith(f"{sink}/"):
        return
    with contextlib.suppress(requests.RequestException):  # no stack (unit tests only): nothing posted
        requests.delete(f"{sink}/messages", params={"since": started}, timeout=10)


@pytest.fixture(scope="session")
def airflow(cfg: dict[str, str]) -> Any:
    from include.airflow_api import AirflowClient

    return AirflowClient(cfg["AIRFLOW_URL"], cfg["AIRFLOW_ADMIN_USER"], cfg["AIRFLOW_ADMIN_PASSWORD"])


@pytest.fixture
def pg_owner(cfg: dict[str, str]) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(config.pg_dsn("PG_OWNER"), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def kafka_admin(cfg: dict[str, str]) -> Any:
    from confluent_kafka.admin import AdminClient

    from include.kafka.client_conf import client_conf

    return AdminClient(client_conf(cfg))


@pytest.fixture(scope="session")
def bootstrapped(airflow: Any) -> dict[str, Any]:
    """The platform bootstrap DAG has run successfully once (topics, schema, migrations, logins)."""
    run_id, state = airflow.run_and_wait("dag_platform_bootstrap", timeout=600)
    assert state == "success", f"bootstrap run {run_id} ended {state}"
    return airflow.xcom("dag_platform_bootstrap", run_id, "report")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian chromium driven by Playwright (never `playwright install`: no CDN here)."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        pytest.fail(f"{chromium} is missing: run make install (apt package chromium)")
    # Chromium refuses ports on its "unsafe" list (10080 is one: AIRFLOW_PORT of a stack shifted by
    # 2000); the stack's own ports are allowed explicitly.
    ports = ",".join(sorted({v for k, v in config.resolve().items() if k.endswith("_PORT") and v.isdigit()}))
    args = ["--no-sandbox", "--headless=new", f"--explicitly-allowed-ports={ports}"]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=args)
        try:
            yield b
        finally:
            b.close()
