"""dag_daily_etl end to end on the real stack: Airflow REST -> extract -> GX -> PostgreSQL -> Cosmos/dbt.

Every test owns its days (2013-01-0x, 2015-03-0x: outside Avazu's 2014 range, which other work may
load) and removes what it loaded. The expected marts are computed independently: events from the
stream's own per-row code (``read_avazu`` + ``encode_row``, not the batch's columnar path), then
every mart in DuckDB SQL written here, compared row by row with PostgreSQL, money exactly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow_logs_support import task_log
from marts_support import (
    assert_marts_equal,
    builder_conn,
    cleanup,
    expected_events,
    expected_marts,
    snapshot,
)

from include import config

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "dag_daily_etl"
GOOD_DAY = date(2013, 1, 7)
BACKFILL_DAYS = [date(2015, 3, 1), date(2015, 3, 2), date(2015, 3, 3)]
# Under DATA_DIR/raw: a DAG's file param may only name files under setting INGEST_FILE_ROOTS.
INPUT_DIR = config.data_dir() / "raw" / "batch_tests"


def _generate(path: Path, start_hour: str, hours: int, rows: int, seed: int) -> Path:
    from include.ingest.generator import main as generate

    path.parent.mkdir(parents=True, exist_ok=True)
    assert generate(["--rows", str(rows), "--start-hour", start_hour, "--hours", str(hours), "--seed",
                     str(seed), "--out", str(path), "--no-progress"]) == 0  # fmt: skip
    return path


def _run(airflow: Any, conf: dict[str, Any]) -> tuple[str, str]:
    return airflow.run_and_wait(DAG_ID, conf, timeout=900)


def _states(airflow: Any, run_id: str) -> dict[str, str]:
    return {ti["task_id"]: ti["state"] for ti in airflow.task_instances(DAG_ID, run_id)}


@pytest.fixture(scope="module")
def good_day(bootstrapped: Any, airflow: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """GOOD_DAY loaded through the DAG from a generated file that also spills into the next day."""
    cleanup([GOOD_DAY])
    path = _generate(INPUT_DIR / "good_130107.csv", "13010700", 30, 24_000, seed=5)
    conf = {"source": "avazu", "file": str(path), "day": GOOD_DAY.isoformat()}
    run_id, state = _run(airflow, conf)
    yield {"path": path, "run_id": run_id, "state": state, "conf": conf}
    cleanup([GOOD_DAY])


def test_marts_equal_an_independent_computation(good_day: dict[str, Any], airflow: Any) -> None:
    assert good_day["state"] == "success", _states(airflow, good_day["run_id"])
    states = _states(airflow, good_day["run_id"])
    # One `dbt build` of every model and its tests (DBT_TASK_GRAPH=build, the default).
    assert states["dbt_build"] == "success", states
    assert states["check_marts"] == "success" and states["slack_summary"] == "success"
    # What a person sees first in the grid: the run's note says what was loaded.
    note = airflow.dag_run(DAG_ID, good_day["run_id"])["note"] or ""
    assert note.startswith(f"**{GOOD_DAY.isoformat()}** from `{good_day['path']}`: "), note

    expected = expected_marts(expected_events(good_day["path"], GOOD_DAY), GOOD_DAY)
    actual = snapshot(GOOD_DAY)
    assert expected["fct_daily_metrics"][0][1] > 15_000  # the day, not the spill into the next day
    assert_marts_equal(actual, expected)
    # Money to the cent (exactly, in fact): the day's cost and revenue.
    fct = actual["fct_daily_metrics"][0]
    assert (fct[4], fct[5]) == (expected["fct_daily_metrics"][0][4], expected["fct_daily_metrics"][0][5])

    with builder_conn() as conn:
        ledger = conn.execute(
            "SELECT row_count, source FROM analytics.ad_events_loads WHERE event_day = %s", (GOOD_DAY,)
        ).fetchone()
        loaded = conn.execute("SELECT count(*) FROM analytics.ad_events WHERE event_day = %s", (GOOD_DAY,))
        assert ledger == (fct[1], "avazu") and loaded.fetchone()[0] == fct[1]

    summary = airflow.xcom(DAG_ID, good_day["run_id"], "slack_summary")
    assert f"Daily ad metrics for {GOOD_DAY}" in summary and f"impressions: {fct[1]:,}" in summary
    assert _slack_texts(good_day["run_id"], "Daily ad metrics"), "summary not in the Slack sink"


def _docs(airflow: Any, path: str) -> Any:
    """GET a docs sites address from Airflow's API server, signed in as the test's admin."""
    from include.docs_sites import URL_PREFIX

    return airflow.session.get(f"{airflow.base_url}{URL_PREFIX}/{path}", timeout=30)


def test_the_runs_dbt_docs_and_data_docs_are_served_by_airflow(
    good_day: dict[str, Any], airflow: Any, cfg: dict[str, str]
) -> None:
    """What a person opens from the UI or from an alert: the dbt docs of the project as of this run
    (the catalog read from the warehouse) and the day's page of each GX suite."""
    assert good_day["state"] == "success"
    assert _states(airflow, good_day["run_id"])["dbt_docs"] == "success"
    index = _docs(airflow, "dbt/")
    assert index.status_code == 200 and "<title>dbt Docs</title>" in index.text, index.text[:300]
    manifest = _docs(airflow, "dbt/manifest.json").json()
    catalog = _docs(airflow, "dbt/catalog.json").json()
    assert "model.ad_events.fct_daily_metrics" in manifest["nodes"]
    columns = catalog["nodes"]["model.ad_events.fct_daily_metrics"]["columns"]
    assert {"event_day", "impressions", "ctr"} <= set(columns), sorted(columns)

    quality = _docs(airflow, "quality/")
    assert quality.status_code == 200
    for task, suite in (("validate", "ad_events_daily"), ("check_marts", "ad_marts_daily")):
        url = airflow.xcom(DAG_ID, good_day["run_id"], task)["page_url"]
        where = f"{cfg['AIRFLOW_EXTERNAL_URL']}/docs-sites/gx/validations/{suite}/{GOOD_DAY.isoformat()}/"
        assert url.startswith(where), url
        page = airflow.session.get(url, timeout=30)  # on the local stack the UI is reached where it runs
        assert page.status_code == 200 and suite in page.text and "Succeeded" in page.text
        listed = [row for row in quality.text.split("<tr>") if url.removeprefix(where) in row]
        assert len(listed) == 1 and "passed" in listed[0] and GOOD_DAY.isoformat() in listed[0], listed


def test_rerun_of_a_day_gives_identical_marts(good_day: dict[str, Any], airflow: Any) -> None:
    assert good_day["state"] == "success"
    before = snapshot(GOOD_DAY)
    run_id, state = _run(airflow, good_day["conf"])
    assert state == "success", _states(airflow, run_id)
    assert snapshot(GOOD_DAY) == before
    with builder_conn() as conn:
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


def test_a_repeated_event_id_counts_once_and_its_copy_is_reported(
    good_day: dict[str, Any], airflow: Any
) -> None:
    """The duplicate-id rule of the stream, in the batch: the first copy of an id in its day is the
    event, a later copy (here with other values) is rejected as `duplicate`, and the day loads."""
    assert good_day["state"] == "success"
    lines = good_day["path"].read_bytes().split(b"\n")
    first_id = lines[1].split(b",", 1)[0]
    target = next(i for i in range(len(lines) - 1, 1, -1) if lines[i].split(b",")[2:3] == [b"13010715"])
    lines[target] = first_id + b"," + lines[target].split(b",", 1)[1]
    dup_file = INPUT_DIR / "dup_130107.csv"
    dup_file.write_bytes(b"\n".join(lines))

    run_id, state = _run(airflow, {**good_day["conf"], "file": str(dup_file)})
    assert state == "success", _states(airflow, run_id)
    extracted = airflow.xcom(DAG_ID, run_id, "extract")
    assert extracted["rejected"] == {"duplicate": 1}, extracted
    assert extracted["rejected_examples"] == [
        f"line {target + 1}: duplicate: event id {first_id.decode()} was already read earlier in this "
        f"file for {GOOD_DAY} (UTC): the first copy counts"
    ], extracted
    expected = expected_marts(expected_events(dup_file, GOOD_DAY), GOOD_DAY)
    assert expected["fct_daily_metrics"][0][1] == extracted["rows"]
    assert_marts_equal(snapshot(GOOD_DAY), expected)


@pytest.fixture
def backfill_file() -> Iterator[Path]:
    cleanup(BACKFILL_DAYS)
    yield _generate(INPUT_DIR / "backfill_1503.csv", "15030100", 72, 9_000, seed=9)
    cleanup(BACKFILL_DAYS)


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
    with builder_conn() as conn:
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


def test_a_file_outside_the_input_roots_is_refused_before_it_is_read(bootstrapped: Any, airflow: Any) -> None:
    """The file param names what the worker reads: /proc/self/environ holds the stack's secrets."""
    run_id, state = _run(airflow, {"source": "avazu", "file": "/proc/self/environ", "day": "2013-01-09"})
    assert state == "failed"
    tis = {ti["task_id"]: ti for ti in airflow.task_instances(DAG_ID, run_id)}
    assert tis["resolve_day"]["state"] == "failed" and tis["resolve_day"]["try_number"] == 1, tis[
        "resolve_day"
    ]
    assert tis["extract"]["state"] in ("upstream_failed", None), tis["extract"]


def test_a_truncated_gzip_fails_extract_at_once_with_one_line(
    bootstrapped: Any, airflow: Any, cfg: dict[str, str]
) -> None:
    """An unreadable file is the person's to fix: no retries, the reason in one line."""
    import gzip

    day = date(2013, 1, 9)
    source = _generate(INPUT_DIR / "truncated_130109.csv", "13010900", 24, 4_000, seed=9)
    packed = gzip.compress(source.read_bytes())
    path = INPUT_DIR / "truncated_130109.csv.gz"
    path.write_bytes(packed[: len(packed) // 2])
    try:
        run_id, state = _run(airflow, {"source": "avazu", "file": str(path), "day": day.isoformat()})
    finally:
        source.unlink()
        path.unlink()
    assert state == "failed"
    tis = {ti["task_id"]: ti for ti in airflow.task_instances(DAG_ID, run_id)}
    assert tis["extract"]["state"] == "failed" and tis["extract"]["try_number"] == 1, tis["extract"]
    log = task_log(cfg, DAG_ID, run_id, "extract")
    assert f"cannot extract {day}: {path} is a truncated or corrupt gzip" in log, log[-2000:]
    note = airflow.dag_run(DAG_ID, run_id)["note"] or ""
    assert note.startswith("**Failed** in `extract` (try 1): AirflowFailException: cannot extract"), note


def test_the_browse_menu_opens_the_docs_inside_airflows_ui(
    good_day: dict[str, Any], browser: Any, cfg: dict[str, str]
) -> None:
    """A person signed in to Airflow picks Browse > Data quality, sees the day's validations, opens
    one's Data Docs page, then Browse > dbt docs and finds the model; all inside the UI's frame.
    Screenshots land in data/test-artifacts/screenshots/."""
    shots = REPO / "data" / "test-artifacts" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(cfg["AIRFLOW_URL"] + "/")
        page.wait_for_url("**/auth/login**")
        page.get_by_label("Username").fill(cfg["AIRFLOW_ADMIN_USER"])
        page.get_by_label("Password").fill(cfg["AIRFLOW_ADMIN_PASSWORD"])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/auth/login" not in url)

        page.get_by_role("button", name="Browse").click()
        page.get_by_role("menuitem", name="Data quality").click()
        page.wait_for_url("**/plugin/data-quality")
        docs = page.frame_locator("iframe")
        row = docs.locator("tr", has_text=GOOD_DAY.isoformat()).filter(has_text="ad_marts_daily").first
        assert "passed" in row.inner_text()
        page.screenshot(path=str(shots / "docs_sites_data_quality.png"), full_page=True)
        row.get_by_role("link", name="Data Docs page").click()
        docs.get_by_text("Succeeded").first.wait_for()
        docs.get_by_text("ad_marts_daily").first.wait_for()
        page.screenshot(path=str(shots / "docs_sites_gx_page.png"), full_page=True)

        page.get_by_role("button", name="Browse").click()
        page.get_by_role("menuitem", name="dbt docs").click()
        page.wait_for_url("**/plugin/dbt-docs")
        dbt = page.frame_locator("iframe")
        dbt.get_by_role("heading", name="ad_events marts").wait_for()  # the project's overview block
        dbt.get_by_placeholder("Search for models").fill("fct_daily_metrics")
        dbt.locator(".search-result", has_text="fct_daily_metrics").first.click()
        dbt.get_by_role("heading", name="fct_daily_metrics").wait_for()
        # Column types come from the catalog, read from the warehouse by this run's dbt docs generate.
        dbt.get_by_role("cell", name="impressions", exact=True).first.wait_for()
        page.screenshot(path=str(shots / "docs_sites_dbt_docs.png"), full_page=True)
    finally:
        context.close()
