"""A great-expectations suite run on a pandas frame, as a checkpoint whose result is kept as Data Docs.

Both suites of the daily batch (``ad_events_daily`` before the load, ``ad_marts_daily`` after dbt)
run through :func:`run_suite`:

- The context is ephemeral (nothing of it is configured on disk: no ``great_expectations.yml``), with
  two exceptions when ``docs_root`` (setting DOCS_DIR, include/docs_sites.py) is given: validation
  results and suites go to GX's JSON stores under ``<docs_root>/gx_results/{validations,suites}``, and a Data Docs site
  lives in ``<docs_root>/gx``. The checkpoint's ``UpdateDataDocsAction`` renders the page of this
  validation, the suite's page and the site's index; the page's path comes back in
  :attr:`SuiteRun.page`.
- The run is named by the day it checks and timed now (UTC): the page's folder is the day, and a
  rerun of a day gets a page of its own beside the earlier ones.
- GX's index reads back every result it lists, so it lists the latest :data:`INDEX_RESULTS` only
  (its cost would otherwise grow with every day kept).
- Without ``docs_root`` nothing is written (unit tests, benchmarks of the suite alone).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from include.docs_sites import GX_RESULTS, GX_SITE

SITE_NAME = "pipeline"
INDEX_RESULTS = 30

# At INFO, importing great-expectations logs ~200 lines about its API-docs registry ("Skipping
# registering function ... because it is a closure") into every validating task's log.
logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)


@dataclass
class SuiteRun:
    """What one suite run found: GX's result, each failed expectation in words, and its page."""

    result: Any
    failures: list[str] = field(default_factory=list)
    page: str | None = None  # path of the validation's Data Docs page within the gx/ site


def quiet_progress(context: Any) -> None:
    """No tqdm bars: they fill Airflow task logs with carriage-return noise."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)


def _filesystem(base: Path) -> dict[str, str]:
    return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(base)}


def docs_context(docs_root: Path) -> Any:
    """An ephemeral context whose results, suites and Data Docs site are on disk under ``docs_root``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    defaults = InMemoryStoreBackendDefaults()
    project = DataContextConfig(store_backend_defaults=defaults)
    project.stores[defaults.validation_results_store_name] = {
        "class_name": "ValidationResultsStore",
        "store_backend": _filesystem(docs_root / GX_RESULTS / "validations"),
    }
    project.stores[defaults.expectations_store_name] = {
        "class_name": "ExpectationsStore",
        "store_backend": _filesystem(docs_root / GX_RESULTS / "suites"),
    }
    project.data_docs_sites = {
        SITE_NAME: {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": _filesystem(docs_root / GX_SITE),
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "validation_results_limit": INDEX_RESULTS,
            },
        }
    }
    return gx.get_context(mode="ephemeral", project_config=project)


def describe_failure(result: Any) -> str:
    """One failed expectation in words: ``expect_x(column=c): 3 unexpected of 100 (e.g. [...])``."""
    cfg = result.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k in ("column", "column_A", "column_B")}
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    res = result.result or {}
    detail = ""
    if "unexpected_count" in res:
        sample = res.get("partial_unexpected_list") or []
        detail = f": {res['unexpected_count']} unexpected of {res.get('element_count')} (e.g. {sample[:3]})"
    elif "observed_value" in res:
        detail = f": observed {res['observed_value']}"
    if result.exception_info and result.exception_info.get("raised_exception"):
        detail += f" [error: {result.exception_info.get('exception_message')}]"
    return f"{cfg.type}({args}){detail}"


def _prune_before(docs_root: Path, now: datetime) -> None:
    """Makes room for the run about to be kept, before GX rebuilds its index from what remains."""
    from include import config
    from include.docs_sites import prune

    keep = max(int(config.get("DOCS_KEEP_VALIDATIONS_PER_DAY")) - 1, 0)
    prune(docs_root, keep, float(config.get("DOCS_RETENTION_DAYS")), now)


def run_suite(
    frame: Any,
    suite_name: str,
    expectations: list[Any],
    *,
    source: str,
    asset: str,
    day: date,
    docs_root: Path | None = None,
) -> SuiteRun:
    """Validate ``frame`` against ``expectations`` as suite ``suite_name``; see the module doc.

    :param source: name of the pandas data source (shown on the page).
    :param asset: name of the frame's data asset (shown on the page and in the batch id).
    :param day: the day the frame holds: the run's name.
    :param docs_root: setting DOCS_DIR to keep the result as Data Docs there. Default: None (kept nowhere).
    """
    import great_expectations as gx

    context = docs_context(docs_root) if docs_root is not None else gx.get_context(mode="ephemeral")
    quiet_progress(context)
    batch_def = (
        context.data_sources.add_pandas(source)
        .add_dataframe_asset(asset)
        .add_batch_definition_whole_dataframe(f"day_{day.isoformat()}")
    )
    suite = gx.ExpectationSuite(name=suite_name)
    for expectation in expectations:
        suite.add_expectation(expectation)
    if docs_root is None:
        suite = context.suites.add(suite)
        result = batch_def.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
        return SuiteRun(result, [describe_failure(r) for r in result.results if not r.success])

    from great_expectations.core.run_identifier import RunIdentifier

    suite = context.suites.add_or_update(suite)  # the suite's page shows the latest day's bounds
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite_name, data=batch_def, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=suite_name,
            validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=[SITE_NAME])],
        )
    )
    run_id = RunIdentifier(run_name=day.isoformat(), run_time=datetime.now(UTC))
    _prune_before(docs_root, run_id.run_time)
    outcome = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=run_id)
    ((result_id, result),) = outcome.run_results.items()
    (site,) = context.get_docs_sites_urls(resource_identifier=result_id, site_name=SITE_NAME)
    page = None
    if site["site_url"]:
        page = Path(site["site_url"].removeprefix("file://")).relative_to(docs_root / GX_SITE).as_posix()
    return SuiteRun(result, [describe_failure(r) for r in result.results if not r.success], page)
