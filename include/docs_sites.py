"""The documentation sites the daily ETL writes and Airflow's API server serves (plugins/docs_sites).

Everything lives under setting DOCS_DIR:

==============  ==========================================================================================
folder          what
==============  ==========================================================================================
``dbt/``        ``dbt docs generate`` of the marts project (``index.html``, ``manifest.json``,
                ``catalog.json``), replaced whole by each run's ``dbt_docs`` task
``gx/``         great-expectations Data Docs: one page per validation of ``ad_events_daily`` and
                ``ad_marts_daily`` (``validations/<suite>/<day>/<run time>/<batch>.html``), one per suite
``gx_results/`` GX's JSON stores the ``gx/`` pages are rendered from: ``validations/`` (results) and
                ``suites/``; not served
==============  ==========================================================================================

The API server serves ``dbt/`` and ``gx/`` read-only under :data:`URL_PREFIX`, plus a list of the
latest validations (:func:`validation_runs`) read straight from ``gx_results/validations``. This module is
standard library only: the API server imports it, and great_expectations alone takes ~4 s to import.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from include import config
from include.airflow_links import ui_url

URL_PREFIX = "/docs-sites"
DBT_SITE = "dbt"
GX_SITE = "gx"
GX_RESULTS = "gx_results"
SITES = (DBT_SITE, GX_SITE)
# What ``dbt docs generate`` writes that the docs page needs (it fetches the two JSON files).
DBT_DOCS_FILES = ("index.html", "manifest.json", "catalog.json")


def docs_root(cfg: Mapping[str, str] | None = None) -> Path:
    """Setting DOCS_DIR."""
    return Path(cfg["DOCS_DIR"] if cfg is not None else config.get("DOCS_DIR"))


def public_url(path: str, cfg: Mapping[str, str] | None = None) -> str:
    """The address of ``path`` (e.g. ``gx/validations/...html``) as people reach Airflow's UI."""
    return ui_url(f"{URL_PREFIX}/{path.lstrip('/')}", cfg)


def publish_files(files: Iterable[Path], dest: Path) -> Path:
    """Replace directory ``dest`` by one holding exactly ``files``, swapped in with two renames.

    Readers see the old site or the new one, never a half-copied mix (a page and the JSON it fetches
    must come from the same run). Raises FileNotFoundError naming a missing file before ``dest`` is
    touched.
    """
    files = list(files)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"cannot publish {dest.name}: missing {', '.join(missing)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging, retired = dest.with_name(f".{dest.name}.new"), dest.with_name(f".{dest.name}.old")
    for leftover in (staging, retired):
        shutil.rmtree(leftover, ignore_errors=True)
    staging.mkdir()
    for file in files:
        shutil.copy2(file, staging / file.name)
    if dest.exists():
        dest.rename(retired)
    staging.rename(dest)
    shutil.rmtree(retired, ignore_errors=True)
    return dest


@dataclass(frozen=True)
class ValidationRun:
    """One kept validation: its suite, the day it checked, when it ran, its outcome and its page."""

    suite: str
    day: str
    run_time: str
    success: bool
    evaluated: int
    failed: int
    page: str  # path of its Data Docs page within the gx/ site

    @property
    def run_time_text(self) -> str:
        """``20261202T181502.123456Z`` as ``2026-12-02 18:15:02 UTC``."""
        t = self.run_time
        if len(t) < 15 or t[8] != "T":
            return t
        return f"{t[:4]}-{t[4:6]}-{t[6:8]} {t[9:11]}:{t[11:13]}:{t[13:15]} UTC"


def _result_files(results: Path) -> list[tuple[Path, tuple[str, ...]]]:
    """Every stored result as (file, (suite, day, run time, batch)), from GX's store layout."""
    return [(file, file.relative_to(results).with_suffix("").parts) for file in results.glob("*/*/*/*.json")]


def validation_runs(root: Path, limit: int = 200) -> list[ValidationRun]:
    """The ``limit`` latest validations kept under ``root`` (DOCS_DIR), newest first.

    Sorted by the run time in each result's path, so only the listed results are opened. A result
    that cannot be read (being written, or damaged) is left out rather than failing the list.
    """
    files = sorted(
        _result_files(root / GX_RESULTS / "validations"), key=lambda item: item[1][2], reverse=True
    )
    runs = []
    for file, (suite, day, run_time, batch) in files[:limit]:
        try:
            result = json.loads(file.read_text())
        except (OSError, ValueError):
            continue
        stats = result.get("statistics") or {}
        runs.append(
            ValidationRun(
                suite=suite,
                day=day,
                run_time=run_time,
                success=bool(result.get("success")),
                evaluated=int(stats.get("evaluated_expectations") or 0),
                failed=int(stats.get("unsuccessful_expectations") or 0),
                page=f"validations/{suite}/{day}/{run_time}/{batch}.html",
            )
        )
    return runs


def prune(root: Path, keep_per_day: int, retention_days: float, now: datetime) -> int:
    """Delete the kept validations nobody will look for; returns how many were deleted.

    Per suite and day, only the ``keep_per_day`` newest runs stay (a day re-run ten times keeps its
    latest runs, not ten pages), and no run older than ``retention_days`` (by its run time) stays.
    Results and their pages go together; GX's index page drops them when it is next rebuilt.
    """
    by_day: dict[tuple[str, str], list[tuple[str, Path]]] = {}
    for file, (suite, day, run_time, _batch) in _result_files(root / GX_RESULTS / "validations"):
        by_day.setdefault((suite, day), []).append((run_time, file))
    oldest = (now - timedelta(days=retention_days)).strftime("%Y%m%dT%H%M%S")
    removed = 0
    for (suite, day), runs in by_day.items():
        runs.sort(reverse=True)
        for rank, (run_time, file) in enumerate(runs):
            if rank < keep_per_day and run_time >= oldest:
                continue
            shutil.rmtree(file.parent, ignore_errors=True)
            shutil.rmtree(root / GX_SITE / "validations" / suite / day / run_time, ignore_errors=True)
            removed += 1
    return removed


def remove_days(root: Path, days: Iterable[date]) -> int:
    """Delete every kept validation of ``days`` (all suites): results and pages. Returns how many.

    GX's own index page (``gx/index.html``) drops them at the next validation, when it is rebuilt
    from the results that remain.
    """
    removed = 0
    for day in days:
        for folder in (root / GX_RESULTS / "validations").glob(f"*/{day.isoformat()}"):
            removed += sum(1 for _ in folder.glob("*/*.json"))
            shutil.rmtree(folder)
        for folder in (root / GX_SITE / "validations").glob(f"*/{day.isoformat()}"):
            shutil.rmtree(folder)
    return removed
