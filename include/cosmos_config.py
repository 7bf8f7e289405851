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
  at parse time; its TLS extras (sslmode, sslrootcert...) reach the profile too.
- ``DBT_TASK_GRAPH`` picks the shape of the dbt part of a DAG (:func:`dbt_tasks`):
  ``build`` (default) is one Cosmos ``dbt build`` task over the selection. On a 2-core worker every
  Airflow task costs seconds of process start-up and every dbt subprocess ~5 s more, so the 14
  models as 16 tasks took ~80 s where one ``dbt build`` with 4 threads takes ~17 s; which model
  failed is in that task's log (dbt's own summary) and the failure alert.
  ``per_model`` renders one ``dbt build`` task per model (``TestBehavior.BUILD``: the model and its
  tests; tests spanning two models get their own task after both), for deployments with enough
  workers to run them in parallel.
- :func:`dbt_docs_task` is Cosmos's ``dbt docs generate`` operator, its output published to
  ``DOCS_DIR/dbt`` (include/docs_sites.py), which Airflow's API server serves (plugins/docs_sites).
  Cosmos ships a dbt docs view of its own (``[cosmos] dbt_docs_projects``), but it serves the docs to
  anyone who can reach the API server, without Airflow's login, and only dbt's; the plugin serves
  both sites behind the login.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos import settings as cosmos_settings
from cosmos.constants import InvocationMode, LoadMode, TestBehavior
from cosmos.operators.local import DbtBuildLocalOperator, DbtDocsLocalOperator
from cosmos.profiles import PostgresUserPasswordProfileMapping

from include import config, docs_sites

DBT_CONN_ID = "pipeline_db_dbt"
DBT_PROJECT_DIR = Path(config.get("DBT_PROJECT_DIR"))
DBT_MANIFEST_PATH = DBT_PROJECT_DIR / "manifest" / "manifest.json"
DBT_EXECUTABLE = config.get("DBT_EXECUTABLE")


class PostgresTlsProfileMapping(PostgresUserPasswordProfileMapping):
    """Cosmos's user/password mapping, plus the connection's TLS extras it leaves out.

    Cosmos maps only ``sslmode``; dbt-postgres also takes the root certificate (and a client
    certificate and key), which verify-full needs. They come from the connection like the rest.
    """

    airflow_param_mapping = {
        **PostgresUserPasswordProfileMapping.airflow_param_mapping,
        **{key: f"extra.{key}" for key in config.LIBPQ_SSL_KEYS},
    }


PROFILE_CONFIG = ProfileConfig(
    profile_name="ad_events",
    target_name="airflow",
    profile_mapping=PostgresTlsProfileMapping(
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

# dbt's partial-parse state, kept between dbt calls ([cosmos] cache_dir). Cosmos runs dbt in a fresh
# copy of the project each time, so without it every call parsed the whole project (3-5 s). A run's
# dbt_docs then reuses what its dbt_build parsed; a call with other --vars (another day) still
# parses in full, because dbt itself checks the vars, profile and files before reusing the state.
PARTIAL_PARSE_CACHE_DIR = (
    cosmos_settings.cache_dir / "ad_events_partial_parse"
    if cosmos_settings.enable_cache and cosmos_settings.enable_cache_partial_parse
    else None
)

# What a single dbt operator outside a task group takes (the task group gets it from the configs).
LOCAL_OPERATOR_ARGS: dict[str, Any] = {
    "project_dir": str(DBT_PROJECT_DIR),
    "profile_config": PROFILE_CONFIG,
    "dbt_executable_path": DBT_EXECUTABLE,
    "invocation_mode": InvocationMode.SUBPROCESS,
    "install_deps": False,
    "cache_dir": PARTIAL_PARSE_CACHE_DIR,
}


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


def dbt_tasks(group_id: str, dbt_vars: dict[str, str], default_args: dict[str, Any]) -> Any:
    """The dbt part of a DAG, shaped by DBT_TASK_GRAPH (see the module doc).

    Returns what to put between upstream and downstream tasks: one operator or a task group.
    ``default_args`` reach the group's tasks (Cosmos builds them outside the DAG's defaults).
    """
    graph = config.get("DBT_TASK_GRAPH")
    if graph == "per_model":
        return DbtTaskGroup(
            group_id=group_id,
            project_config=PROJECT_CONFIG,
            profile_config=PROFILE_CONFIG,
            execution_config=EXECUTION_CONFIG,
            render_config=render_config(),
            operator_args={"vars": dbt_vars},
            default_args=default_args,
        )
    if graph != "build":
        raise ValueError(f"DBT_TASK_GRAPH must be build or per_model, not {graph!r}")
    return DbtBuildLocalOperator(task_id=f"{group_id}_build", vars=dbt_vars, **LOCAL_OPERATOR_ARGS)


def publish_dbt_docs(project_dir: str, **_: Any) -> None:
    """Cosmos callback: the docs ``dbt docs generate`` wrote in its copy of the project -> DOCS_DIR/dbt."""
    target = Path(project_dir) / "target"
    site = docs_sites.publish_files(
        (target / name for name in docs_sites.DBT_DOCS_FILES), docs_sites.docs_root() / docs_sites.DBT_SITE
    )
    print(f"dbt docs published to {site}: {docs_sites.public_url(docs_sites.DBT_SITE + '/')}")


class DbtDocsSiteOperator(DbtDocsLocalOperator):
    """``dbt docs generate``, published to DOCS_DIR/dbt; its own failure skips it, never fails the run.

    The docs describe marts that the run has already built and checked: a catalog query that times
    out or a full disk must not turn a good day red (nor retry, nor page anyone). The task shows as
    skipped, its log says why, and the previous docs stay in place.
    """

    def execute(self, context: Any, **kwargs: Any) -> None:
        from airflow.sdk.exceptions import AirflowSkipException

        try:
            super().execute(context, **kwargs)
        except Exception as exc:  # any cause: see the class doc
            raise AirflowSkipException(
                f"dbt docs not refreshed ({type(exc).__name__}: {str(exc).strip()[:500]}); the marts are "
                f"built, the previous docs stay in {docs_sites.docs_root() / docs_sites.DBT_SITE}"
            ) from exc


def dbt_docs_task(task_id: str, dbt_vars: dict[str, str]) -> DbtDocsSiteOperator:
    """The DAG task that generates and publishes the dbt docs (see :class:`DbtDocsSiteOperator`)."""
    return DbtDocsSiteOperator(
        task_id=task_id, vars=dbt_vars, callback=publish_dbt_docs, **LOCAL_OPERATOR_ARGS
    )
