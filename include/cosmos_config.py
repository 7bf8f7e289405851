"""The Cosmos configs of the ad_events dbt project, built once; DAGs add only a selection.

- dbt runs from its own venv (DBT_EXECUTABLE) as a subprocess: Cosmos 1.15 would otherwise try to
  import dbt into the Airflow interpreter, hence InvocationMode.SUBPROCESS in both the
  render and the execution config.
- The DAG is rendered from the committed manifest (``include/dbt/ad_events/manifest/manifest.json``,
  ``make dbt-manifest``): parsing needs no dbt process and no database, so the DAG file parses in
  well under a second. ``tests/dbt/test_manifest.py`` fails when the manifest is stale.
- The profile comes from the Airflow connection ``pipeline_db_dbt`` (the dbt login), working as
  the group role ``adevents_analytics_builder`` so every object belongs to the group and the
  dashboard role reads it by default privileges. The connection is read when a task runs, never
  at parse time.
- ``TestBehavior.BUILD``: one ``dbt build`` task per model (the model and its tests), because each
  dbt subprocess costs ~5 s of start-up; tests with two parents (relationships) get their own task
  after both parents.
"""

from __future__ import annotations

from pathlib import Path

from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior
from cosmos.profiles import PostgresUserPasswordProfileMapping

from include import config

DBT_CONN_ID = "pipeline_db_dbt"
DBT_PROJECT_DIR = Path(config.get("DBT_PROJECT_DIR"))
DBT_MANIFEST_PATH = DBT_PROJECT_DIR / "manifest" / "manifest.json"
DBT_EXECUTABLE = config.get("DBT_EXECUTABLE")

PROFILE_CONFIG = ProfileConfig(
    profile_name="ad_events",
    target_name="airflow",
    profile_mapping=PostgresUserPasswordProfileMapping(
        conn_id=DBT_CONN_ID,
        profile_args={"schema": "analytics", "role": config.get("DBT_ROLE"), "threads": 4},
    ),
)

PROJECT_CONFIG = ProjectConfig(
    dbt_project_path=DBT_PROJECT_DIR,
    manifest_path=DBT_MANIFEST_PATH,
    project_name="ad_events",
    install_dbt_deps=False,  # no packages: hub.getdbt.com is unreachable, the generic tests are ours
)

EXECUTION_CONFIG = ExecutionConfig(
    dbt_executable_path=DBT_EXECUTABLE,
    invocation_mode=InvocationMode.SUBPROCESS,
)


def render_config(select: list[str] | None = None) -> RenderConfig:
    """The render config for a selection of the project (default: every model)."""
    return RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        invocation_mode=InvocationMode.SUBPROCESS,
        test_behavior=TestBehavior.BUILD,
        should_detach_multiple_parents_tests=True,
        select=select or [],
        dbt_executable_path=DBT_EXECUTABLE,
    )
