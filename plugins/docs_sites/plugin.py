"""Airflow plugin: the dbt docs and the great-expectations Data Docs, served by Airflow's API server
under ``/docs-sites`` behind Airflow's login, with two entries in the UI's Browse menu.

- ``fastapi_apps``: plugins/docs_sites/web.py, built at the first request (every Airflow process
  imports this module; only the API server serves).
- ``external_views``: "dbt docs" and "Data quality", each shown inside the UI (``url_route``: an
  iframe at ``/plugin/<route>``) and reached from the Browse menu. ``href`` has no leading slash so
  it resolves against the UI's base URL (``[api] base_url``), behind a path prefix too.

What the sites hold and where they are written: include/docs_sites.py and docs/operations.md.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from include.docs_sites import URL_PREFIX
from plugins.docs_sites.web import OnFirstRequest, create_app

PREFIX = URL_PREFIX.lstrip("/")


class DocsSitesPlugin(AirflowPlugin):
    name = "docs_sites"
    fastapi_apps = [
        {"app": OnFirstRequest(create_app), "url_prefix": URL_PREFIX, "name": "dbt docs and Data Docs"}
    ]
    external_views = [
        {
            "name": "dbt docs",
            "href": f"{PREFIX}/dbt/",
            "url_route": "dbt-docs",
            "destination": "nav",
            "category": "browse",
        },
        {
            "name": "Data quality",
            "href": f"{PREFIX}/quality/",
            "url_route": "data-quality",
            "destination": "nav",
            "category": "browse",
        },
    ]
