"""Every DAG imports cleanly, follows the house rules, and parses fast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from include.dag_defaults import APPROVED_TAGS

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
    assert not problems, "\n".join(problems)
