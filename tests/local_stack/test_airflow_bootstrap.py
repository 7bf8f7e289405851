"""The bootstrap DAG, triggered through Airflow's REST API, succeeds and is idempotent."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

DAG_ID = "dag_platform_bootstrap"


def test_bootstrap_twice_second_run_changes_nothing(bootstrapped, airflow, cfg):
    # `bootstrapped` already ran it once in this session; a further run must find everything in place.
    run_id, state = airflow.run_and_wait(DAG_ID, timeout=600)
    assert state == "success"
    states = {t["task_id"]: t["state"] for t in airflow.task_instances(DAG_ID, run_id)}
    assert set(states.values()) == {"success"}, states
    report = airflow.xcom(DAG_ID, run_id, "report")
    assert report["changes"] == 0, report
    assert report["migrations"]["applied"] == []
    assert set(report["topics"]) == {cfg["TOPIC_RAW"], cfg["TOPIC_DLQ"], cfg["TOPIC_BACKFILL"]}
    assert report["schema"]["subject"] == cfg["SCHEMA_SUBJECT"]
    assert report["schema"]["dead_letter"]["subject"] == cfg["DLQ_SCHEMA_SUBJECT"]
    # make up created the pool the job's submissions queue in, with one slot.
    pool = airflow.xcom(DAG_ID, run_id, "check_submit_pool")
    assert pool == {"pool": cfg["AIRFLOW_FLINK_SUBMIT_POOL"], "slots": 1}


def test_bootstrap_dag_is_documented_in_the_ui(airflow):
    details = airflow._call("GET", f"/dags/{DAG_ID}/details")
    assert "Platform bootstrap" in (details.get("doc_md") or "")
    assert details["owners"] == ["ad-events-platform"]
