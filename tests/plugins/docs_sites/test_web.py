"""The docs sites plugin: what the installed Airflow accepts of it, and the pages it renders itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from include import docs_sites
from plugins.docs_sites.web import missing_site_page, quality_page

REPO = Path(__file__).resolve().parents[3]


def test_airflow_accepts_the_menu_entries_and_the_app_prefix() -> None:
    from airflow.api_fastapi.app import RESERVED_URL_PREFIXES
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    from plugins.docs_sites.plugin import DocsSitesPlugin

    views = [ExternalViewResponse.model_validate(v) for v in DocsSitesPlugin.external_views]
    assert [(v.name, v.destination, v.category, v.url_route) for v in views] == [
        ("dbt docs", "nav", "browse", "dbt-docs"),
        ("Data quality", "nav", "browse", "data-quality"),
    ]
    # Relative to the UI's base URL (a leading slash would drop a base path such as /airflow/).
    assert [v.href for v in views] == ["docs-sites/dbt/", "docs-sites/quality/"]
    (app,) = DocsSitesPlugin.fastapi_apps
    assert app["url_prefix"] == docs_sites.URL_PREFIX
    assert not any(app["url_prefix"].startswith(p) for p in RESERVED_URL_PREFIXES)


def test_importing_the_plugin_costs_no_web_framework() -> None:
    """Every Airflow process (scheduler, triggerer, task runners) imports the plugins folder."""
    code = "import sys, plugins.docs_sites.plugin; print('fastapi' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def _run(**changes: object) -> docs_sites.ValidationRun:
    fields = {"suite": "ad_events_daily", "day": "2014-10-21", "run_time": "20261202T181502.000000Z",
              "success": True, "evaluated": 17, "failed": 0,
              "page": "validations/ad_events_daily/2014-10-21/20261202T181502.000000Z/b.html"}  # fmt: skip
    return docs_sites.ValidationRun(**{**fields, **changes})  # type: ignore[arg-type]


def test_quality_page_lists_runs_linked_to_their_pages() -> None:
    page = quality_page([_run(success=False, failed=2), _run(suite="ad_marts_daily", evaluated=11)])
    rows = page.split("<tr>")[2:]
    assert "FAILED" in rows[0] and "2 of 17" in rows[0] and "2026-12-02 18:15:02 UTC" in rows[0]
    assert "passed" in rows[1] and "ad_marts_daily" in rows[1] and "0 of 11" in rows[1]
    assert 'href="../gx/validations/ad_events_daily/2014-10-21/20261202T181502.000000Z/b.html"' in rows[0]


def test_quality_page_escapes_what_it_shows() -> None:
    page = quality_page([_run(suite="<script>x</script>", page='validations/"><b>/b.html')])
    assert "<script>x" not in page and "&lt;script&gt;" in page
    assert '"><b>' not in page


def test_empty_and_missing_sites_say_who_writes_them() -> None:
    assert "No validation kept yet" in quality_page([])
    assert "dbt_docs" in missing_site_page("dbt") and "check_marts" in missing_site_page("gx")
