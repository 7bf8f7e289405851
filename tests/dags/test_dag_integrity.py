"""Every DAG imports cleanly, follows the house rules, and parses fast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from include.dag_defaults import APPROVED_TAGS
from plugins.connections.overlay import use_connections

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
MAX_PARSE_SECONDS = 2.0


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_dags_exist():
    assert DAG_FILES, "no DAG files found"


def test_no_import_errors(dagbag):
    assert not dagbag.import_errors, "\n".join(f"{f}: {e}" for f, e in dagbag.import_errors.items())


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in DAG_FILES])
def test_one_dag_per_file_named_after_it(dagbag, path):
    dags = [d for d in dagbag.dags.values() if Path(d.fileloc).resolve() == path.resolve()]
    assert [d.dag_id for d in dags] == [path.stem]


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in DAG_FILES])
def test_file_parses_fast(dagbag, path):
    stats = {
        Path(s.file).name if s.file.startswith("/") else s.file.lstrip("/"): s for s in dagbag.dagbag_stats
    }
    stat = stats[path.name]
    assert stat.duration.total_seconds() < MAX_PARSE_SECONDS, f"{path.name} took {stat.duration}"


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in DAG_FILES])
def test_no_heavy_top_level_imports(path):
    heavy = {
        "pandas",
        "great_expectations",
        "confluent_kafka",
        "psycopg",
        "psycopg2",
        "duckdb",
        "pyflink",
        "requests",
    }
    tree = ast.parse(path.read_text())
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = {(n.module or "") if isinstance(n, ast.ImportFrom) else a.name for n in top for a in n.names}
    assert not {name.split(".")[0] for name in names} & heavy


def test_every_dag_follows_the_rules(dagbag):
    problems = []
    for dag in dagbag.dags.values():
        if not dag.doc_md or len(dag.doc_md.strip()) < 40:
            problems.append(f"{dag.dag_id}: doc_md missing or too short")
        if not dag.tags or not set(dag.tags) <= APPROVED_TAGS:
            problems.append(f"{dag.dag_id}: tags {sorted(dag.tags)} not within {sorted(APPROVED_TAGS)}")
        manual = not dag.timetable.can_be_scheduled
        if manual and "manual" not in dag.tags:
            problems.append(
                f"{dag.dag_id}: no schedule; a trigger-only DAG must say so with the 'manual' tag"
            )
        if not manual and "manual" in dag.tags:
            problems.append(f"{dag.dag_id}: tagged manual but has a schedule ({dag.timetable!r})")
        for t in dag.tasks:
            if t.owner in (None, "", "airflow"):
                problems.append(f"{dag.dag_id}.{t.task_id}: no owner")
            if not t.retries or t.retries < 1:
                problems.append(f"{dag.dag_id}.{t.task_id}: no retries")
            if not t.on_failure_callback:
                problems.append(f"{dag.dag_id}.{t.task_id}: no on_failure_callback")
            # A mapped task keeps its operator's arguments in partial_kwargs.
            hook = (
                t.partial_kwargs.get("pre_execute") if hasattr(t, "partial_kwargs") else t._pre_execute_hook
            )
            if hook is not use_connections:
                problems.append(f"{dag.dag_id}.{t.task_id}: does not take its endpoints from the connections")
    assert not problems, "\n".join(problems)


def test_every_dag_says_in_one_line_what_it_does(dagbag):
    """The DAG list shows `description`: one line a person understands, not the doc_md."""
    for dag in dagbag.dags.values():
        assert dag.description, f"{dag.dag_id}: no description"
        assert "\n" not in dag.description and 20 <= len(dag.description) <= 110, dag.description


def test_trigger_forms_submit_with_their_defaults(dagbag):
    """No param is required in the form: an empty default is None and its type allows null (the UI
    marks every other type required), and every param says what it means (and what empty means)."""
    problems = []
    for dag in dagbag.dags.values():
        for name in dag.params:
            param = dag.params.get_param(name)
            types = param.schema.get("type")
            types = types if isinstance(types, list) else [types]
            if param.value in (None, ""):
                if param.value == "" or "null" not in types:
                    problems.append(
                        f"{dag.dag_id}.{name}: empty default must be Param(None, type=[null, ...])"
                    )
                elif "empty" not in (param.description or "").lower():
                    problems.append(f"{dag.dag_id}.{name}: say what empty means")
            if not param.description or len(param.description) < 15:
                problems.append(f"{dag.dag_id}.{name}: no description a person understands")
            param.resolve(param.value)  # the default itself validates
    assert not problems, "\n".join(problems)


def _daily_etl_with(monkeypatch: pytest.MonkeyPatch, graph: str):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("DBT_TASK_GRAPH", graph)
    bag = DagBag(dag_folder=str(DAGS_DIR / "dag_daily_etl.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["dag_daily_etl"]


def test_daily_etl_runs_dbt_as_one_build_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    dag = _daily_etl_with(monkeypatch, "build")
    build = dag.get_task("dbt_build")
    assert build.upstream_task_ids == {"load"} and "check_marts" in build.downstream_task_ids
    assert build.vars == {"day": "{{ ti.xcom_pull(task_ids='resolve_day')['day'] }}"}
    assert not [t for t in dag.task_ids if t.startswith("dbt.")]


def test_daily_etl_per_model_graph_has_a_task_per_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    dag = _daily_etl_with(monkeypatch, "per_model")
    manifest = json.loads((DAGS_DIR.parent / "include/dbt/ad_events/manifest/manifest.json").read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    tasks = {
        t.removeprefix("dbt.").removesuffix("_model_build") for t in dag.task_ids if t.startswith("dbt.")
    }
    assert models <= tasks
    assert "dbt_build" not in dag.task_ids
    load = dag.get_task("load")
    assert {t for t in load.downstream_task_ids if t.startswith("dbt.")}, load.downstream_task_ids


def test_daily_etl_refuses_an_unknown_dbt_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("DBT_TASK_GRAPH", "per_node")
    bag = DagBag(dag_folder=str(DAGS_DIR / "dag_daily_etl.py"))
    assert "DBT_TASK_GRAPH must be build or per_model" in "".join(bag.import_errors.values())


@pytest.mark.parametrize("graph", ["build", "per_model"])
def test_daily_etl_generates_dbt_docs_after_the_marts_as_a_leaf(
    monkeypatch: pytest.MonkeyPatch, graph
) -> None:
    """dbt_docs runs once the marts are built, beside check_marts; as a leaf nothing waits for it, and
    its own error skips it (a skipped leaf leaves the run green)."""
    from include.cosmos_config import DbtDocsSiteOperator, publish_dbt_docs

    dag = _daily_etl_with(monkeypatch, graph)
    docs = dag.get_task("dbt_docs")
    assert isinstance(docs, DbtDocsSiteOperator) and docs.callback is publish_dbt_docs
    assert not docs.downstream_task_ids
    # The same dbt tasks as check_marts (which also reads resolve_day's output).
    assert docs.upstream_task_ids == dag.get_task("check_marts").upstream_task_ids - {"resolve_day"}
    if graph == "build":
        assert docs.upstream_task_ids == {"dbt_build"}
    assert docs.vars == {"day": "{{ ti.xcom_pull(task_ids='resolve_day')['day'] }}"}


def test_every_task_that_may_submit_the_job_runs_in_the_submit_pool(dagbag):
    from include import config
    from plugins.flink.operators import FlinkResubmitIfDownOperator, FlinkSubmitJobOperator

    submitting = [
        (dag.dag_id, t.task_id, t.pool)
        for dag in dagbag.dags.values()
        for t in dag.tasks
        if isinstance(t, FlinkSubmitJobOperator | FlinkResubmitIfDownOperator)
    ]
    assert {(d, t) for d, t, _ in submitting} >= {
        ("dag_flink_deploy", "submit_job"),
        ("dag_flink_health", "repair_if_down"),
        ("dag_flink_savepoint", "submit_from_savepoint"),
    }
    assert {pool for *_, pool in submitting} == {config.get("AIRFLOW_FLINK_SUBMIT_POOL")}
