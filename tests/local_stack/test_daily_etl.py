"""dag_daily_etl end to end on the real stack: Airflow REST -> extract -> GX -> PostgreSQL -> Cosmos/dbt.

Every test owns its days (2013-01-0x, 2015-03-0x: outside Avazu's 2014 range, which other work may
load) and removes what it loaded. The expected marts are computed independently: events from the
stream's own per-row code (``read_avazu`` + ``encode_row``, not the batch's columnar path), then
every mart in DuckDB SQL written here, compared row by row with PostgreSQL, money exactly.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from include import config
from include.batch.days import partition_name

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "dag_daily_etl"
GOOD_DAY = date(2013, 1, 7)
BACKFILL_DAYS = [date(2015, 3, 1), date(2015, 3, 2), date(2015, 3, 3)]
PER_DAY_MARTS = {
    "fct_daily_metrics": ["event_day"],
    "mart_daily_ctr": ["event_day"],
    "daily_impressions": ["event_day"],
    "daily_clicks": ["event_day"],
    "mart_hourly_ctr": ["event_day", "event_hour_at"],
    "campaign_performance": ["event_day", "campaign_id"],
    "mart_device_performance": ["event_day", "device_type"],
    "mart_category_analysis": ["event_day", "traffic_type", "category"],
    "mart_banner_position": ["event_day", "banner_pos"],
    "int_hourly_agg": ["event_day", "event_hour_at", "campaign_id", "traffic_type"],
    "int_device_stats": ["event_day", "device_type", "device_conn_type"],
}


def _generate(path: Path, start_hour: str, hours: int, rows: int, seed: int) -> Path:
    from include.ingest.generator import main as generate

    path.parent.mkdir(parents=True, exist_ok=True)
    assert generate(["--rows", str(rows), "--start-hour", start_hour, "--hours", str(hours), "--seed",
                     str(seed), "--out", str(path), "--no-progress"]) == 0  # fmt: skip
    return path


def _builder_conn() -> Any:
    import psycopg

    conn = psycopg.connect(config.pg_dsn("PG_DBT"), autocommit=True)
    conn.execute(f"SET ROLE {config.get('DBT_ROLE')}")
    return conn


def _cleanup(days: list[date]) -> None:
    """Remove our days from every table and file we wrote (the dims rebuild from what is left next run)."""
    import shutil

    from include.batch.days import parquet_dir

    for day in days:
        shutil.rmtree(parquet_dir(config.data_dir(), day), ignore_errors=True)
    with _builder_conn() as conn:
        for day in days:
            conn.execute(f"DROP TABLE IF EXISTS analytics.{partition_name(day)}")
            conn.execute("DELETE FROM analytics.ad_events_loads WHERE event_day = %s", (day,))
            for table in PER_DAY_MARTS:
                if conn.execute("SELECT to_regclass(%s)", (f"analytics.{table}",)).fetchone()[0]:
                    conn.execute(f"DELETE FROM analytics.{table} WHERE event_day = %s", (day,))


def _mart_rows(conn: Any, table: str, day: date) -> list[tuple[Any, ...]]:
    keys = ", ".join(PER_DAY_MARTS[table])
    cur = conn.execute(f"SELECT * FROM analytics.{table} WHERE event_day = %s ORDER BY {keys}", (day,))
    return [tuple(r) for r in cur.fetchall()]


def _snapshot(day: date) -> dict[str, list[tuple[Any, ...]]]:
    with _builder_conn() as conn:
        return {t: _mart_rows(conn, t, day) for t in PER_DAY_MARTS}


def _run(airflow: Any, conf: dict[str, Any]) -> tuple[str, str]:
    return airflow.run_and_wait(DAG_ID, conf, timeout=900)


def _states(airflow: Any, run_id: str) -> dict[str, str]:
    return {ti["task_id"]: ti["state"] for ti in airflow.task_instances(DAG_ID, run_id)}


@pytest.fixture(scope="module")
def good_day(bootstrapped: Any, airflow: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """GOOD_DAY loaded through the DAG from a generated file that also spills into the next day."""
    _cleanup([GOOD_DAY])
    path = _generate(REPO / "data" / "batch_tests" / "good_130107.csv", "13010700", 30, 24_000, seed=5)
    conf = {"source": "avazu", "file": str(path), "day": GOOD_DAY.isoformat()}
    run_id, state = _run(airflow, conf)
    yield {"path": path, "run_id": run_id, "state": state, "conf": conf}
    _cleanup([GOOD_DAY])


def _expected_events(path: Path, day: date) -> Any:
    """The day's events by the stream's own per-row code, as a DuckDB relation source (pyarrow)."""
    import pyarrow as pa

    from include.batch.days import avazu_hours
    from include.ingest.avazu_reader import read_avazu
    from include.ingest.economics import load_price_model
    from include.ingest.events import compile_validator, encode_row, load_schema

    validator, model = compile_validator(load_schema()), load_price_model()
    events = []
    for item in read_avazu(path, *avazu_hours(day)):
        encoded = encode_row(item, validator, model)
        assert isinstance(encoded, tuple), encoded
        e = encoded[0]
        events.append(
            {
                "event_id": e["event_id"],
                "event_time_ms": e["event_time"],
                "click": e["click"],
                "conversion": e["conversion"],
                "cost": Decimal(repr(e["cost"])),
                "revenue": Decimal(repr(e["revenue"])),
                "campaign_id": e["campaign_id"],
                "creative_id": e["creative_id"],
                "app_id": e["app_id"],
                "site_category": e["site_category"],
                "app_category": e["app_category"],
                "device_type": e["device_type"],
                "banner_pos": e["banner_pos"],
                "device_conn_type": e["device_conn_type"],
                "device_model": e["device_model"],
            }
        )
    schema = {"cost": pa.decimal128(18, 6), "revenue": pa.decimal128(18, 6)}
    table = pa.Table.from_pylist(events)
    for name, typ in schema.items():
        table = table.set_column(table.schema.get_field_index(name), name, table[name].cast(typ))
    return table


_EXPECTED_SQL = {
    "base": """
        CREATE TEMP TABLE ev AS SELECT *, DATE '{day}' AS event_day,
          date_trunc('hour', epoch_ms(event_time_ms)) AS event_hour_at,
          CASE WHEN app_id = 'ecad2386' THEN 'site' ELSE 'app' END AS traffic_type,
          CASE WHEN app_id = 'ecad2386' THEN site_category ELSE app_category END AS category
        FROM events""",
    "sums": "count(*) AS impressions, sum(click) AS clicks, sum(conversion) AS conversions, "
    "sum(cost) AS cost, sum(revenue) AS revenue",
}


def _expected_marts(events: Any, day: date) -> dict[str, list[tuple[Any, ...]]]:
    """Every per-day mart computed in DuckDB from the events, in the marts' column order."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("events", events)
    con.execute(_EXPECTED_SQL["base"].format(day=day.isoformat()))
    s = _EXPECTED_SQL["sums"]

    def ratios(src: str = "") -> str:
        return (
            f"clicks::DECIMAL(38,18) / nullif(impressions, 0) AS ctr, cost / nullif(clicks, 0) AS cpc, "
            f"cost / nullif(conversions, 0) AS cpa, revenue / nullif(cost, 0) AS roas{src}"
        )

    q = {
        "fct_daily_metrics": f"SELECT *, {ratios()} FROM (SELECT event_day, {s}, "
        "count(DISTINCT campaign_id) AS campaigns FROM ev GROUP BY 1)",
        "mart_daily_ctr": "SELECT event_day, count(*), sum(click), sum(click) / count(*) FROM ev GROUP BY 1",
        "daily_impressions": "SELECT event_day, count(*), count(*) FILTER (traffic_type = 'site'), "
        "count(*) FILTER (traffic_type = 'app'), count(DISTINCT campaign_id) FROM ev GROUP BY 1",
        "daily_clicks": "SELECT event_day, sum(click), sum(click) FILTER (traffic_type = 'site'), "
        "sum(click) FILTER (traffic_type = 'app'), sum(conversion), count(*), sum(click) / count(*) "
        "FROM ev GROUP BY 1",
        "mart_hourly_ctr": f"SELECT *, {ratios()} FROM (SELECT event_day, event_hour_at, {s} FROM ev "
        "GROUP BY 1, 2)",
        "campaign_performance": f"SELECT *, {ratios()}, DATE '{day}' FROM (SELECT event_day, campaign_id, "
        f"{s} FROM ev GROUP BY 1, 2)",
        "mart_device_performance": f"SELECT *, {ratios()} FROM (SELECT event_day, device_type, {s} FROM ev "
        "GROUP BY 1, 2)",
        "mart_category_analysis": f"SELECT *, {ratios()} FROM (SELECT event_day, traffic_type, category, "
        f"{s} FROM ev GROUP BY 1, 2, 3)",
        "mart_banner_position": f"SELECT *, {ratios()} FROM (SELECT event_day, banner_pos, {s} FROM ev "
        "GROUP BY 1, 2)",
        "int_hourly_agg": f"SELECT event_day, event_hour_at, campaign_id, traffic_type, {s}, "
        "count(DISTINCT creative_id) FROM ev GROUP BY 1, 2, 3, 4",
        "int_device_stats": f"SELECT event_day, device_type, device_conn_type, {s}, "
        "count(DISTINCT device_model) FROM ev GROUP BY 1, 2, 3",
    }
    out = {}
    for table, sql in q.items():
        keys = ", ".join(str(i + 1) for i in range(len(PER_DAY_MARTS[table])))
        out[table] = [tuple(r) for r in con.execute(f"{sql} ORDER BY {keys}").fetchall()]
    return out


def _same(actual: Any, expected: Any) -> bool:
    """Equality per value: exact for ints, text, dates and money; 1e-12 for the ratios (NUMERIC vs DECIMAL)."""
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(actual, Decimal) or isinstance(expected, Decimal | float):
        return abs(Decimal(str(actual)) - Decimal(str(expected))) <= Decimal("1e-12")
    return actual == expected


def test_marts_equal_an_independent_computation(good_day: dict[str, Any], airflow: Any) -> None:
    assert good_day["state"] == "success", _states(airflow, good_day["run_id"])
    states = _states(airflow, good_day["run_id"])
    dbt_tasks = {t: s for t, s in states.items() if t.startswith("dbt.")}
    # Every model built with its tests (TestBehavior.BUILD), plus one task per test that spans
    # several models (relationships): Cosmos runs those after all their models.
    nodes = json.loads((REPO / "include/dbt/ad_events/manifest/manifest.json").read_text())["nodes"].values()
    models = sum(n["resource_type"] == "model" for n in nodes)
    spanning = sum(
        n["resource_type"] == "test"
        and len({d for d in n["depends_on"]["nodes"] if d.startswith("model.")}) > 1
        for n in nodes
    )
    assert len(dbt_tasks) == models + spanning and set(dbt_tasks.values()) == {"success"}, dbt_tasks
    assert states["check_marts"] == "success" and states["slack_summary"] == "success"

    expected = _expected_marts(_expected_events(good_day["path"], GOOD_DAY), GOOD_DAY)
    actual = _snapshot(GOOD_DAY)
    assert expected["fct_daily_metrics"][0][1] > 15_000  # the day, not the spill into the next day
    for table, rows in expected.items():
        got = actual[table]
        assert len(got) == len(rows), f"{table}: {len(got)} rows, expected {len(rows)}"
        for g, e in zip(got, rows, strict=True):
            assert len(g) == len(e), f"{table}: columns {g} vs {e}"
            bad = [(i, a, b) for i, (a, b) in enumerate(zip(g, e, strict=True)) if not _same(a, b)]
            assert not bad, f"{table} row {g[:4]}: (column, actual, expected) {bad}"
    # Money to the cent (exactly, in fact): the day's cost and revenue.
    fct = actual["fct_daily_metrics"][0]
    assert (fct[4], fct[5]) == (expected["fct_daily_metrics"][0][4], expected["fct_daily_metrics"][0][5])

    with _builder_conn() as conn:
        ledger = conn.execute(
            "SELECT row_count, source FROM analytics.ad_events_loads WHERE event_day = %s", (GOOD_DAY,)
        ).fetchone()
        loaded = conn.execute("SELECT count(*) FROM analytics.ad_events WHERE event_day = %s", (GOOD_DAY,))
        assert ledger == (fct[1], "avazu") and loaded.fetchone()[0] == fct[1]

    summary = airflow.xcom(DAG_ID, good_day["run_id"], "slack_summary")
    assert f"Daily ad metrics for {GOOD_DAY}" in summary and f"impressions: {fct[1]:,}" in summary
    assert _slack_texts(good_day["run_id"], "Daily ad metrics"), "summary not in the Slack sink"


def test_rerun_of_a_day_gives_identical_marts(good_day: dict[str, Any], airflow: Any) -> None:
    assert good_day["state"] == "success"
    before = _snapshot(GOOD_DAY)
    run_id, state = _run(airflow, good_day["conf"])
    assert state == "success", _states(airflow, run_id)
    assert _snapshot(GOOD_DAY) == before
    with _builder_conn() as conn:
        run = conn.execute("SELECT run_id FROM analytics.ad_events_loads WHERE event_day = %s", (GOOD_DAY,))
        assert run.fetchone()[0] == run_id  # really reloaded, not skipped
    load = airflow.xcom(DAG_ID, run_id, "load")
    assert load["replaced"] is True and load["rows"] == before["fct_daily_metrics"][0][1]


def _slack_texts(run_id: str, needle: str) -> list[str]:
    import requests

    port = config.get("SLACK_SINK_PORT")
    messages = requests.get(f"http://127.0.0.1:{port}/messages", timeout=10).json()
    texts = [str(m.get("payload", {}).get("text", "")) for m in messages]
    return [t for t in texts if run_id in t and needle in t]


def test_planted_duplicate_fails_validation_and_leaves_marts(
    good_day: dict[str, Any], airflow: Any, tmp_path: Path
) -> None:
    """A duplicated event id passes the reader and the JSON schema (both are per row) and reaches GX."""
    assert good_day["state"] == "success"
    before = _snapshot(GOOD_DAY)
    lines = good_day["path"].read_bytes().split(b"\n")
    first_id = lines[1].split(b",", 1)[0]
    target = next(i for i in range(len(lines) - 1, 1, -1) if lines[i].split(b",")[2:3] == [b"13010715"])
    lines[target] = first_id + b"," + lines[target].split(b",", 1)[1]
    bad_file = REPO / "data" / "batch_tests" / "dup_130107.csv"
    bad_file.write_bytes(b"\n".join(lines))

    run_id, state = _run(airflow, {**good_day["conf"], "file": str(bad_file)})
    assert state == "failed"
    states = _states(airflow, run_id)
    assert states["validate"] == "failed" and states["load"] == "upstream_failed", states

    log = airflow._call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/validate/logs/1")
    text = str(log)
    assert "expect_column_values_to_be_unique(column=event_id)" in text
    assert first_id.decode() in text

    deadline = time.monotonic() + 30
    while not (alerts := _slack_texts(run_id, "dag_daily_etl.validate")) and time.monotonic() < deadline:
        time.sleep(1)
    assert alerts and "expect_column_values_to_be_unique(column=event_id)" in alerts[0]
    assert _snapshot(GOOD_DAY) == before  # nothing loaded, nothing rebuilt


@pytest.fixture
def backfill_file() -> Iterator[Path]:
    _cleanup(BACKFILL_DAYS)
    yield _generate(REPO / "data" / "batch_tests" / "backfill_1503.csv", "15030100", 72, 9_000, seed=9)
    _cleanup(BACKFILL_DAYS)


def test_three_day_backfill_through_rest(bootstrapped: Any, airflow: Any, backfill_file: Path) -> None:
    """POST /api/v2/backfills: runs for logical dates D+1 process D (the scheduled semantics)."""
    airflow.wait_for_dag(DAG_ID)
    airflow.unpause(DAG_ID)
    backfill = airflow._call(
        "POST",
        "/backfills",
        json={
            "dag_id": DAG_ID,
            "from_date": (BACKFILL_DAYS[0] + timedelta(days=1)).isoformat() + "T00:00:00Z",
            "to_date": (BACKFILL_DAYS[-1] + timedelta(days=1)).isoformat() + "T00:00:00Z",
            "dag_run_conf": {"source": "avazu", "file": str(backfill_file)},
            "max_active_runs": 1,
            "reprocess_behavior": "completed",
        },
    )
    deadline = time.monotonic() + 1500
    while True:
        runs = airflow._call("GET", f"/dags/{DAG_ID}/dagRuns?run_type=backfill&limit=100")["dag_runs"]
        ours = [r for r in runs if r.get("conf", {}).get("file") == str(backfill_file)]
        done = [r for r in ours if r["state"] in ("success", "failed")]
        if len(ours) == 3 and len(done) == 3:
            break
        assert time.monotonic() < deadline, f"backfill {backfill['id']} not done: {ours}"
        time.sleep(5)
    assert {r["state"] for r in ours} == {"success"}, [(r["dag_run_id"], r["state"]) for r in ours]
    with _builder_conn() as conn:
        rows = conn.execute(
            "SELECT event_day, impressions FROM analytics.fct_daily_metrics WHERE event_day = ANY(%s) "
            "ORDER BY 1",
            (BACKFILL_DAYS,),
        ).fetchall()
        ledger = dict(
            conn.execute(
                "SELECT event_day, row_count FROM analytics.ad_events_loads WHERE event_day = ANY(%s)",
                (BACKFILL_DAYS,),
            ).fetchall()
        )
    assert [d for d, _ in rows] == BACKFILL_DAYS
    assert all(n > 0 and ledger[d] == n for d, n in rows)
    assert sum(n for _, n in rows) == 9_000  # the file's 72 hours are exactly the three days
