"""Every parameterised DAG's Trigger form in a real browser (Debian chromium, headless, Playwright), as
a person uses it: log in on the simple auth manager's page, open the form, trigger with the defaults
and once with one edited value, watch the run's state on its page, and try one bad value per form
(the reason is shown in the form, the field keeps the value, no run is created). The DAG list shows
every DAG's one-line description. Screenshots land in data/test-artifacts/screenshots/.

What stays out of the pipeline's own state (the issue's "tests must not pollute production metrics
or Slack"): the defaults of dag_avazu_replay, dag_dlq_retry and dag_dlq_alert act on the pipeline's
topics (the sample into ``ad_events_raw``, a drain of the real DLQ, an alert on its real rate). For
those the test checks that the form sent exactly its defaults, then points the run at private
topics (only the topic params are filled in on the way to Airflow), so the run is real and cheap
and leaves no event, dead letter or Slack message behind.

dag_daily_etl's defaults build the day before the run's date from the Flink archive and wait until
its 24 hours are complete there, like the nightly run: that is what a person triggering it by hand
expects of a daily DAG (on a live stack yesterday is complete and nothing waits). On this stack the
archive holds replayed 2014 days, so the run waits: the test checks it started and is waiting for
that day (the state the run page shows), then marks it failed, as a person cancelling it would.

dag_flink_savepoint is opened and checked but not submitted: it stops the shared streaming job,
which other tests running at the same time rely on.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from include import config

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "data" / "test-artifacts" / "screenshots"
TIMEOUT_MS = 60_000
PIPELINE_TOPIC_PARAMS = {
    "dag_avazu_replay": ("topic",),
    "dag_dlq_retry": ("dlq_topic", "raw_topic", "group_id"),
    "dag_dlq_alert": ("raw_topic", "dlq_topic"),
}


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def ui(browser: Any, cfg: dict[str, str], bootstrapped: Any) -> Iterator[Any]:
    """A browser page logged into Airflow through its login page."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(cfg["AIRFLOW_URL"] + "/")
    page.wait_for_url("**/auth/login**")
    page.get_by_label("Username").fill(cfg["AIRFLOW_ADMIN_USER"])
    page.get_by_label("Password").fill(cfg["AIRFLOW_ADMIN_PASSWORD"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def private(kafka_admin: Any, cfg: dict[str, str]) -> Iterator[dict[str, str]]:
    """Private topics and a consumer group for the runs that would otherwise touch the pipeline's."""
    from confluent_kafka.admin import NewTopic

    suffix = uuid.uuid4().hex[:8]
    names = {
        "raw": f"scratch_raw_form_test_{suffix}",
        "dlq": f"scratch_dlq_form_test_{suffix}",
        "group": f"form_test_{suffix}",
    }
    futures = kafka_admin.create_topics([NewTopic(names["raw"], 3, 1), NewTopic(names["dlq"], 1, 1)])
    for future in futures.values():
        future.result(timeout=30)
    try:
        yield names
    finally:
        existing = set(kafka_admin.list_topics(timeout=10).topics)
        doomed = [t for t in existing if t.startswith((names["raw"], names["dlq"]))]
        if doomed:
            kafka_admin.delete_topics(doomed)
        import psycopg

        with psycopg.connect(config.pg_dsn("PG_OWNER"), autocommit=True) as conn:
            for table in ("errors.dlq_errors", "errors.retry_history"):
                conn.execute(f"DELETE FROM {table} WHERE dlq_topic LIKE %s", (names["dlq"] + "%",))


@pytest.fixture(scope="module")
def submitted(ui: Any, private: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
    """Every trigger request the forms send (what the form put in it), and the pipeline's topic
    params of the three DAGs above filled in with private topics when the form left them empty."""
    seen: list[dict[str, Any]] = []
    values = {"topic": private["raw"], "raw_topic": private["raw"], "dlq_topic": private["dlq"],
              "group_id": private["group"]}  # fmt: skip

    def handle(route: Any) -> None:
        request = route.request
        if request.method != "POST":
            route.continue_()
            return
        body = request.post_data_json
        dag_id = request.url.split("/dags/")[1].split("/")[0]
        seen.append({"dag_id": dag_id, "conf": dict(body.get("conf") or {})})
        conf = body.get("conf") or {}
        for name in PIPELINE_TOPIC_PARAMS.get(dag_id, ()):
            if conf.get(name) is None:
                conf[name] = values[name]
        body["conf"] = conf
        route.continue_(post_data=json.dumps(body))

    ui.route("**/api/v2/dags/*/dagRuns", handle)
    yield seen
    ui.unroute("**/api/v2/dags/*/dagRuns", handle)


# ------------------------------------------------------------------------------------ helpers


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _open_form(page: Any, cfg: dict[str, str], dag_id: str) -> Any:
    page.goto(f"{cfg['AIRFLOW_URL']}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(f"Trigger Dag - {dag_id}").wait_for()
    unpause = dialog.get_by_text("Unpause", exact=False)
    if unpause.count():  # a paused DAG would queue the run forever; the test restores the flag
        unpause.first.click()
    return dialog


def _field(dialog: Any, name: str) -> Any:
    return dialog.locator(f'[name="element_{name}"]')


def _row(dialog: Any, name: str) -> Any:
    """The form's row of one param: its label, input, description or error."""
    field = dialog.page.locator(f'[name="element_{name}"]')
    return dialog.locator('[data-scope="field"][data-part="root"]').filter(has=field)


def _trigger(page: Any, dialog: Any) -> tuple[int, dict[str, Any]]:
    """Clicks the form's Trigger button; returns the API's status and answer."""
    button = dialog.get_by_test_id("trigger-dag-submit")
    assert button.is_enabled(), "the Trigger button is disabled: a param is required"
    with page.expect_response(lambda r: r.request.method == "POST" and "/dagRuns" in r.url) as answer:
        button.click()
    return answer.value.status, answer.value.json()


def _ready_with_defaults(dialog: Any, airflow: Any, dag_id: str) -> None:
    """Trigger is enabled as the form opens, and only params that have a value are marked required
    (an asterisk: emptying them would disable Trigger); a param whose default is empty is optional."""
    assert dialog.get_by_test_id("trigger-dag-submit").is_enabled()
    required = [f.get_attribute("name") for f in dialog.locator('[name^="element_"][data-required]').all()]
    defaults = _defaults(airflow, dag_id)
    assert all(defaults[name.removeprefix("element_")] not in (None, "") for name in required), required


def _wait_for_state(page: Any, cfg: dict[str, str], airflow: Any, dag_id: str, run_id: str,
                    states: set[str], timeout_s: float = 300) -> str:  # fmt: skip
    """Waits for the run to reach one of ``states`` (REST), then for its page to show that state."""
    deadline = time.monotonic() + timeout_s
    while (state := airflow.dag_run(dag_id, run_id)["state"]) not in states:
        assert state not in {"success", "failed"} - states, f"{dag_id} {run_id} ended {state}"
        assert time.monotonic() < deadline, f"{dag_id} {run_id} still {state}"
        time.sleep(2)
    page.goto(f"{cfg['AIRFLOW_URL']}/dags/{dag_id}/runs/{run_id}")
    page.get_by_text(state.capitalize(), exact=True).first.wait_for()
    return state


def _runs(airflow: Any, dag_id: str) -> set[str]:
    found = airflow._call("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100, "order_by": "-run_after"})
    return {r["dag_run_id"] for r in found["dag_runs"]}


def _defaults(airflow: Any, dag_id: str) -> dict[str, Any]:
    params = airflow._call("GET", f"/dags/{dag_id}/details")["params"]
    return {name: p["value"] for name, p in params.items()}


def _bad_value(page: Any, cfg: dict[str, str], airflow: Any, dag_id: str, name: str, value: str,
               rule: str) -> None:  # fmt: skip
    """One malformed value: the form says which param and why, keeps the value, creates no run."""
    before = _runs(airflow, dag_id)
    dialog = _open_form(page, cfg, dag_id)
    _field(dialog, name).fill(value)
    status, answer = _trigger(page, dialog)
    assert status == 400, answer
    alert = dialog.get_by_test_id("error-alert").filter(has_text=f"Invalid input for param {name}")
    alert.wait_for()
    text = alert.inner_text()
    assert f"'{value}'" in text and rule in text, text
    assert _field(dialog, name).input_value() == value  # nothing to type again
    assert len(_row(dialog, name).inner_text().strip()) > len(name), "the field lost its description"
    alert.scroll_into_view_if_needed()
    _shot(page, f"form_{dag_id}_bad_{name}")
    dialog.get_by_role("button", name="Close").first.click()
    assert _runs(airflow, dag_id) == before, "a rejected form created a run"


def _no_slack_message(cfg: dict[str, str], needle: str) -> None:
    time.sleep(5)
    url = f"http://{cfg['BIND_HOST']}:{cfg['SLACK_SINK_PORT']}/messages"
    texts = [json.dumps(m.get("payload", {})) for m in requests.get(url, timeout=10).json()]
    assert not [t for t in texts if needle in t]


# ------------------------------------------------------------------------------------ the DAG list


def test_every_param_with_an_empty_default_is_nullable_as_the_api_reports_it(airflow: Any) -> None:
    for dag in airflow._call("GET", "/dags", params={"limit": 100})["dags"]:
        params = airflow._call("GET", f"/dags/{dag['dag_id']}/details")["params"] or {}
        for name, p in params.items():
            if p["value"] in (None, ""):
                types = p["schema"].get("type")
                assert p["value"] is None and isinstance(types, list) and "null" in types, (
                    dag["dag_id"],
                    name,
                )


def test_the_dag_list_shows_each_dags_description(ui: Any, cfg: dict[str, str], airflow: Any) -> None:
    dags = {
        d["dag_id"]: d["description"] for d in airflow._call("GET", "/dags", params={"limit": 100})["dags"]
    }
    assert all(dags.values()), dags
    ui.goto(f"{cfg['AIRFLOW_URL']}/dags")
    for dag_id, description in dags.items():
        ui.get_by_test_id("dag-id").filter(has_text=dag_id).first.hover()
        ui.get_by_role("tooltip").filter(has_text=description).wait_for()
        if dag_id == "dag_daily_etl":
            _shot(ui, "dag_list_description")
        ui.mouse.move(0, 0)


# ------------------------------------------------------------------------------------ the forms


def test_replay_form(ui: Any, cfg: dict[str, str], airflow: Any, submitted: list, private: dict) -> None:
    dag_id = "dag_avazu_replay"
    dialog = _open_form(ui, cfg, dag_id)
    _ready_with_defaults(dialog, airflow, dag_id)
    assert "Empty = the file's first hour" in _row(dialog, "from_hour").inner_text()
    _shot(ui, "form_dag_avazu_replay")
    status, run = _trigger(ui, dialog)
    assert status == 200, run
    assert submitted[-1]["conf"] == _defaults(airflow, dag_id)  # the form's own defaults, nothing typed
    assert _wait_for_state(ui, cfg, airflow, dag_id, run["dag_run_id"], {"success"}) == "success"
    report = airflow.xcom(dag_id, run["dag_run_id"], "replay")
    assert (report["rows_read"], report["published"], report["dead_lettered"]) == (100, 100, 0), report
    _shot(ui, "run_dag_avazu_replay_defaults")

    # One edited value: the first hour of the sample, typed as a person would.
    first_hour = (REPO / "samples/avazu_sample_100.csv").read_text().splitlines()[1].split(",")[2]
    dialog = _open_form(ui, cfg, dag_id)
    _field(dialog, "from_hour").fill(first_hour)
    status, run = _trigger(ui, dialog)
    assert status == 200 and run["conf"]["from_hour"] == first_hour, run
    assert _wait_for_state(ui, cfg, airflow, dag_id, run["dag_run_id"], {"success"}) == "success"
    assert airflow.xcom(dag_id, run["dag_run_id"], "validate")["first_hour"] == first_hour

    _bad_value(ui, cfg, airflow, dag_id, "from_hour", "2014-10-21", "does not match")
    # A topic outside the allow-list (here the DLQ): refused in the form, nothing read or published.
    _bad_value(ui, cfg, airflow, dag_id, "topic", cfg["TOPIC_DLQ"], "does not match")


def test_daily_etl_form(ui: Any, cfg: dict[str, str], airflow: Any, submitted: list) -> None:
    dag_id = "dag_daily_etl"
    dialog = _open_form(ui, cfg, dag_id)
    _ready_with_defaults(dialog, airflow, dag_id)
    assert _field(dialog, "day").get_attribute("type") == "date"  # a date picker, not free text
    _shot(ui, "form_dag_daily_etl")
    status, run = _trigger(ui, dialog)
    assert status == 200, run
    assert submitted[-1]["conf"] == _defaults(airflow, dag_id)
    yesterday = (
        datetime.fromisoformat(run["logical_date"].replace("Z", "+00:00")) - timedelta(days=1)
    ).date()
    _check_waiting_then_cancel(ui, cfg, airflow, run["dag_run_id"], yesterday)

    # One edited value, picked in the date field.
    picked = (yesterday - timedelta(days=3)).isoformat()
    dialog = _open_form(ui, cfg, dag_id)
    _field(dialog, "day").fill(picked)
    status, run = _trigger(ui, dialog)
    assert status == 200 and run["conf"]["day"] == picked, run
    _check_waiting_then_cancel(ui, cfg, airflow, run["dag_run_id"], datetime.fromisoformat(picked).date())

    _bad_value(ui, cfg, airflow, dag_id, "hours", "25", "does not match")


def _check_waiting_then_cancel(page: Any, cfg: dict[str, str], airflow: Any, run_id: str, day: Any) -> None:
    """The run resolved the expected day and waits for its archive; then it is marked failed."""
    dag_id = "dag_daily_etl"
    deadline = time.monotonic() + 180
    while True:
        states = {t["task_id"]: t["state"] for t in airflow.task_instances(dag_id, run_id)}
        if states.get("resolve_day") == "success" and states.get("wait_for_archive") == "deferred":
            break
        assert states.get("resolve_day") not in ("failed", "upstream_failed", "skipped"), states
        assert time.monotonic() < deadline, states
        time.sleep(2)
    assert airflow.xcom(dag_id, run_id, "resolve_day")["day"] == day.isoformat()
    page.goto(f"{cfg['AIRFLOW_URL']}/dags/{dag_id}/runs/{run_id}")
    page.get_by_text("Running", exact=True).first.wait_for()
    _shot(page, f"run_dag_daily_etl_waiting_{day}")
    airflow._call("PATCH", f"/dags/{dag_id}/dagRuns/{run_id}", json={"state": "failed"})
    assert airflow.dag_run(dag_id, run_id)["state"] == "failed"
    _no_slack_message(cfg, run_id)  # cancelled by hand: nothing to alert


def test_dlq_retry_form(ui: Any, cfg: dict[str, str], airflow: Any, submitted: list, private: dict) -> None:
    dag_id = "dag_dlq_retry"
    dialog = _open_form(ui, cfg, dag_id)
    _ready_with_defaults(dialog, airflow, dag_id)
    assert "Empty = setting TOPIC_DLQ" in _row(dialog, "dlq_topic").inner_text()
    _shot(ui, "form_dag_dlq_retry")
    status, run = _trigger(ui, dialog)
    assert status == 200, run
    assert submitted[-1]["conf"] == _defaults(airflow, dag_id)
    assert _wait_for_state(ui, cfg, airflow, dag_id, run["dag_run_id"], {"success"}) == "success"
    report = airflow.xcom(dag_id, run["dag_run_id"], "drain")
    assert report["read"] == 0 and airflow.xcom(dag_id, run["dag_run_id"], "alert") is False

    # One edited value: a backoff, typed into the number field.
    dialog = _open_form(ui, cfg, dag_id)
    _field(dialog, "backoff_base_s").fill("30")
    status, run = _trigger(ui, dialog)
    assert status == 200 and run["conf"]["backoff_base_s"] == 30, run
    assert _wait_for_state(ui, cfg, airflow, dag_id, run["dag_run_id"], {"success"}) == "success"

    _bad_value(ui, cfg, airflow, dag_id, "group_id", "dlq retry", "does not match")


def test_dlq_alert_form(ui: Any, cfg: dict[str, str], airflow: Any, submitted: list) -> None:
    dag_id = "dag_dlq_alert"
    dialog = _open_form(ui, cfg, dag_id)
    _ready_with_defaults(dialog, airflow, dag_id)
    # A number outside its range is brought back into it by the field itself.
    _field(dialog, "warn_ratio").fill("5")
    _field(dialog, "warn_ratio").press("Tab")
    assert _field(dialog, "warn_ratio").input_value() == "1"
    _field(dialog, "warn_ratio").fill("")
    _field(dialog, "warn_ratio").press("Tab")
    _shot(ui, "form_dag_dlq_alert")
    status, run = _trigger(ui, dialog)
    assert status == 200, run
    assert submitted[-1]["conf"] == _defaults(airflow, dag_id)
    assert _wait_for_state(ui, cfg, airflow, dag_id, run["dag_run_id"], {"success"}) == "success"
    measured = airflow.xcom(dag_id, run["dag_run_id"], "measure")
    # The private topics: what the replay test put there, no dead letter, nothing to post.
    assert measured["raw_topic"].startswith("scratch_raw_form_test_"), measured
    assert (measured["dlq"], measured["level"]) == (0, "ok"), measured
    assert airflow.xcom(dag_id, run["dag_run_id"], "notify") is False

    dialog = _open_form(ui, cfg, dag_id)
    _field(dialog, "window_s").fill("600")
    status, run = _trigger(ui, dialog)
    assert status == 200 and run["conf"]["window_s"] == 600, run
    assert _wait_for_state(ui, cfg, airflow, dag_id, run["dag_run_id"], {"success"}) == "success"

    _bad_value(ui, cfg, airflow, dag_id, "raw_topic", "ad events", "does not match")


def test_flink_deploy_form(ui: Any, cfg: dict[str, str], airflow: Any, submitted: list) -> None:
    """The streaming job already runs: both runs leave it as it is (idempotent) and end green."""
    dag_id = "dag_flink_deploy"
    dialog = _open_form(ui, cfg, dag_id)
    _ready_with_defaults(dialog, airflow, dag_id)
    _shot(ui, "form_dag_flink_deploy")
    status, run = _trigger(ui, dialog)
    assert status == 200 and submitted[-1]["conf"] == _defaults(airflow, dag_id), run
    assert _wait_for_state(ui, cfg, airflow, dag_id, run["dag_run_id"], {"success"}) == "success"

    dialog = _open_form(ui, cfg, dag_id)
    _field(dialog, "restore").fill("none")
    status, run = _trigger(ui, dialog)
    assert status == 200 and run["conf"]["restore"] == "none", run
    assert _wait_for_state(ui, cfg, airflow, dag_id, run["dag_run_id"], {"success"}) == "success"

    _bad_value(ui, cfg, airflow, dag_id, "restore", "yesterday", "does not match")


def test_flink_savepoint_form_is_ready_to_submit(ui: Any, cfg: dict[str, str], airflow: Any) -> None:
    """Opened, not submitted (it would stop the shared streaming job): ready with its defaults, and
    the switch says what on and off do."""
    dag_id = "dag_flink_savepoint"
    dialog = _open_form(ui, cfg, dag_id)
    _ready_with_defaults(dialog, airflow, dag_id)
    assert "Off: leave it stopped" in dialog.inner_text()
    _shot(ui, "form_dag_flink_savepoint")
    dialog.get_by_role("button", name="Close").first.click()
