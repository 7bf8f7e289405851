"""The committed dbt manifest (what Cosmos renders dag_daily_etl from) matches the dbt project."""

from __future__ import annotations

import json
from pathlib import Path

from include.batch.dbt_manifest import MANIFEST_PATH, manifest_fingerprint, parse


def test_committed_manifest_is_up_to_date(tmp_path: Path):
    fresh = json.loads(parse(tmp_path).read_text())
    committed = json.loads(MANIFEST_PATH.read_text())
    assert manifest_fingerprint(committed) == manifest_fingerprint(
        fresh
    ), "include/dbt/ad_events changed since the manifest was generated: run `make dbt-manifest`"


def test_manifest_has_every_spec_model_with_tests():
    manifest = json.loads(MANIFEST_PATH.read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    assert models == {
        "stg_ad_events", "int_hourly_agg", "int_device_stats", "fct_daily_metrics", "dim_campaigns",
        "dim_devices", "mart_hourly_ctr", "mart_daily_ctr", "mart_device_performance",
        "mart_category_analysis", "campaign_performance", "daily_impressions", "daily_clicks",
        "mart_banner_position",
    }  # fmt: skip
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    kinds = {(n.get("test_metadata") or {}).get("name") for n in tests}
    assert {"not_null", "unique", "relationships", "accepted_values", "clicks_not_above_impressions",
            "ratio_between_0_and_1", "expression_is_true", "unique_combination"} <= kinds  # fmt: skip


# The folder a model lives in decides how it is materialised (dbt_project.yml); nothing else may.
FOLDER_CONFIG = {
    "staging": {"materialized": "view"},
    "intermediate": {"materialized": "incremental", "incremental_strategy": "delete+insert",
                     "unique_key": "event_day", "on_schema_change": "fail"},
    "marts": {"materialized": "incremental", "incremental_strategy": "delete+insert", "unique_key": "event_day"},
    "dimensions": {"materialized": "table", "incremental_strategy": None, "unique_key": None},
}  # fmt: skip


def _models() -> list[dict]:
    manifest = json.loads(MANIFEST_PATH.read_text())
    return [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]


def test_materialisation_is_set_per_folder():
    for model in _models():
        folder = next(f for f in reversed(model["fqn"][:-1]) if f in FOLDER_CONFIG)
        got = {k: model["config"].get(k) for k in FOLDER_CONFIG[folder]}
        assert got == FOLDER_CONFIG[folder], f"{model['name']} ({folder}): {got}"
        assert "config(" not in model["raw_code"], f"{model['name']}: set it in dbt_project.yml instead"


def test_every_model_has_unit_tests():
    manifest = json.loads(MANIFEST_PATH.read_text())
    tested = {t["model"] for t in manifest["unit_tests"].values()}
    assert tested == {m["name"] for m in _models()}
