"""Helpers and fixtures of the dashboard tests (conftest.py re-exports the fixtures): known live windows (a private copy of realtime.ad_window_metrics
and a private Redis prefix), known mart rows for days no other test uses, and a private Streamlit
server pointed at them. Everything is removed afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from dashboard.metrics import ratios
from include import config

REPO = Path(__file__).resolve().parents[2]
# Days far outside Avazu's (2014-10-21..30) and the batch tests' (2013-01-07, 2015-03-01..03).
SEED_DAYS = (date(2001, 1, 1), date(2001, 1, 2))
MARTS = (
    "fct_daily_metrics",
    "mart_daily_ctr",
    "mart_device_performance",
    "mart_category_analysis",
    "mart_banner_position",
)
ARTIFACTS = REPO / "data" / "test-artifacts" / "screenshots"


def _pg_owner() -> Any:
    import psycopg

    return psycopg.connect(config.pg_dsn("PG_OWNER"), autocommit=True)


# ------------------------------------------------------------------------------------ marts


def ensure_marts() -> None:
    """The mart tables exist (a fresh stack has none until the first daily run): `dbt run` once."""
    with _pg_owner() as conn:
        missing = [
            t
            for t in MARTS
            if conn.execute("SELECT to_regclass(%s)", (f"analytics.{t}",)).fetchone()[0] is None
        ]
    if not missing:
        return
    cfg = config.resolve()
    project = cfg["DBT_PROJECT_DIR"]
    target = REPO / "data" / "test-artifacts" / "dbt-target"
    env = {**os.environ, **cfg}
    out = subprocess.run(
        [cfg["DBT_EXECUTABLE"], "run", "--project-dir", project, "--profiles-dir", project,
         "--target-path", str(target), "--log-path", str(target / "logs")],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 0, f"dbt run failed:\n{out.stdout[-3000:]}\n{out.stderr[-2000:]}"


def _money(x: str) -> Decimal:
    return Decimal(x)


def mart_seed() -> dict[str, list[dict[str, Any]]]:
    """Known rows per mart for SEED_DAYS (consistent with each other, ratios as in docs/design.md)."""
    d1, d2 = SEED_DAYS
    base = {
        d1: dict(impressions=12000, clicks=1900, conversions=95, cost=_money("480.123456"), revenue=_money("950.5")),
        d2: dict(impressions=15000, clicks=2700, conversions=120, cost=_money("610.654321"), revenue=_money("1210.25")),
    }  # fmt: skip
    daily = [{"event_day": d, **v, "campaigns": 7, **ratios(**v)} for d, v in base.items()]
    ctr = [{"event_day": d, "impressions": v["impressions"], "clicks": v["clicks"],
            "ctr": ratios(**v)["ctr"]} for d, v in base.items()]  # fmt: skip

    def split(d: date, key: str, parts: list[tuple[Any, float]]) -> list[dict[str, Any]]:
        v, rows = base[d], []
        left = dict(v)
        for i, (value, share) in enumerate(parts):
            if i == len(parts) - 1:
                part = left
            else:
                part = {
                    "impressions": int(v["impressions"] * share),
                    "clicks": int(v["clicks"] * share),
                    "conversions": int(v["conversions"] * share),
                    "cost": (v["cost"] * Decimal(str(share))).quantize(Decimal("0.000001")),
                    "revenue": (v["revenue"] * Decimal(str(share))).quantize(Decimal("0.000001")),
                }
                left = {k: left[k] - part[k] for k in part}
            rows.append({"event_day": d, **(value if isinstance(value, dict) else {key: value}),
                         **part, **ratios(**part)})  # fmt: skip
        return rows

    device = [r for d in SEED_DAYS for r in split(d, "device_type", [(1, 0.7), (0, 0.2), (4, 0.1)])]
    category = [
        r
        for d in SEED_DAYS
        for r in split(
            d,
            "",
            [
                ({"traffic_type": "site", "category": "dashtest_news"}, 0.5),
                ({"traffic_type": "app", "category": "dashtest_games"}, 0.3),
                ({"traffic_type": "app", "category": "dashtest_tools"}, 0.2),
            ],
        )
    ]
    banner = [r for d in SEED_DAYS for r in split(d, "banner_pos", [(0, 0.6), (1, 0.35), (7, 0.05)])]
    return {
        "fct_daily_metrics": daily,
        "mart_daily_ctr": ctr,
        "mart_device_performance": device,
        "mart_category_analysis": category,
        "mart_banner_position": banner,
    }


def delete_seed_days(conn: Any) -> None:
    for table in MARTS:
        if conn.execute("SELECT to_regclass(%s)", (f"analytics.{table}",)).fetchone()[0] is not None:
            conn.execute(f"DELETE FROM analytics.{table} WHERE event_day = ANY(%s)", (list(SEED_DAYS),))


@pytest.fixture(scope="session")
def seeded_marts(bootstrapped: Any) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """SEED_DAYS in every mart the dashboards read (after the bootstrap DAG created the schemas)."""
    ensure_marts()
    seed = mart_seed()
    with _pg_owner() as conn:
        delete_seed_days(conn)
        for table, rows in seed.items():
            cols = list(rows[0])
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO analytics.{table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
                    [tuple(r[c] for c in cols) for r in rows],
                )
    try:
        yield seed
    finally:
        with _pg_owner() as conn:
            delete_seed_days(conn)


# ------------------------------------------------------------------------------------ live windows


@dataclass
class LiveSeed:
    token: str
    table: str
    prefix: str
    rows: list[dict[str, Any]] = field(default_factory=list)


def live_rows(now: datetime, scale: int = 1) -> list[dict[str, Any]]:
    """Windows ending a minute or two ago: three 1m and two 5m totals, campaigns in the 5m ones."""
    minute = now.replace(second=0, microsecond=0, tzinfo=UTC)
    rows: list[dict[str, Any]] = []

    def add(size: int, start: datetime, dim: str, value: str, imp: int, clk: int, conv: int,
            cost: str, rev: str) -> None:  # fmt: skip
        c, r = Decimal(cost), Decimal(rev)
        q = Decimal("0.000001")
        rat = {k: (v.quantize(q) if v is not None else None) for k, v in ratios(imp, clk, conv, c, r).items()}
        rows.append({"window_size_s": size, "window_start": start, "window_end": start + timedelta(seconds=size),
                     "dimension": dim, "dimension_value": value, "impressions": imp, "clicks": clk,
                     "conversions": conv, "cost": c, "revenue": r, **rat})  # fmt: skip

    # The newest two 1m windows have the same clicks: a "+0" change (no arrow, no colour).
    for i, (imp, clk, conv) in enumerate([(1000, 170, 9), (1200, 160, 11), (900, 160, 0)]):
        start = minute - timedelta(minutes=3 - i)
        add(60, start, "all", "", imp * scale, clk * scale, conv, f"{37.5 + i:.6f}", f"{80.25 * (i + 1):.6f}")
    five = minute.replace(minute=minute.minute - minute.minute % 5) - timedelta(minutes=5)
    for i, (imp, clk, conv) in enumerate([(5000, 840, 40), (5600, 900, 44)]):
        start = five - timedelta(minutes=5 * (1 - i))
        add(
            300,
            start,
            "all",
            "",
            imp * scale,
            clk * scale,
            conv,
            f"{190.123456 + i:.6f}",
            f"{410.5 + 10 * i:.6f}",
        )
        for value, share in (("dashtest-A", 5), ("dashtest-B", 3), ("dashtest-C", 2)):
            add(300, start, "campaign", value, imp * scale * share // 10, clk * scale * share // 10,
                conv * share // 10, f"{(190.123456 + i) * share / 10:.6f}", f"{(410.5 + 10 * i) * share / 10:.6f}")  # fmt: skip
    return rows


@pytest.fixture
def live_seed(cfg: dict[str, str], bootstrapped: Any) -> Iterator[LiveSeed]:
    token = uuid.uuid4().hex[:8]
    seed = LiveSeed(token, f"realtime.dash_test_{token}", f"dash_test_{token}")
    with _pg_owner() as conn:
        conn.execute(f"CREATE TABLE {seed.table} (LIKE realtime.ad_window_metrics INCLUDING ALL)")
        conn.execute(f"GRANT SELECT ON {seed.table} TO adevents_dashboard_reader")
    try:
        yield seed
    finally:
        with _pg_owner() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {seed.table}")
        clear_redis(cfg, seed.prefix)


def insert_windows(table: str, rows: list[dict[str, Any]]) -> None:
    cols = list(rows[0])
    with _pg_owner() as conn, conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
            [tuple(r[c] for c in cols) for r in rows],
        )


def clear_redis(cfg: dict[str, str], prefix: str) -> None:
    import redis

    client = redis.Redis(
        host=cfg["REDIS_HOST"], port=int(cfg["REDIS_PORT"]), password=cfg["REDIS_PASSWORD"] or None
    )
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


# ------------------------------------------------------------------------------------ Streamlit


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def streamlit_server(cfg: dict[str, str], live_seed: LiveSeed, tmp_path: Path) -> Iterator[str]:
    """A private Streamlit of dashboard/app.py reading the test's table and Redis prefix."""
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DASHBOARD_WINDOW_TABLE": live_seed.table,
        "REDIS_WINDOW_PREFIX": live_seed.prefix,
        "DASHBOARD_REFRESH_S": "5",
        "STREAMLIT_PORT": str(port),
    }
    log = (tmp_path / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [str(REPO / ".venvs/airflow/bin/streamlit"), "run", str(REPO / "dashboard/app.py"),
         "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
         "--client.showErrorDetails", "type", "--client.toolbarMode", "viewer"],
        env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/_stcore/health", timeout=2).text.strip() == "ok":
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, (tmp_path / "streamlit.log").read_text()
            assert time.monotonic() < deadline, "streamlit did not become healthy in 60 s"
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
