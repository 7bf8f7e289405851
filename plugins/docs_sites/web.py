"""The web app of the documentation sites: DOCS_DIR's ``dbt/`` and ``gx/`` (include/docs_sites.py),
served read-only by Airflow's API server behind Airflow's own login.

Routes, under the plugin's prefix ``/docs-sites``:

==================  ========================================================================================
``/dbt/...``        the dbt docs (``index.html`` fetches ``manifest.json`` and ``catalog.json`` beside it)
``/gx/...``         great-expectations Data Docs: ``validations/<suite>/<day>/<run time>/<batch>.html``,
                    ``expectations/<suite>.html`` and GX's own ``index.html``
``/quality/``       the latest validations of both suites, newest first, each linked to its page (GX's
                    own index builds its table with scripts from public CDNs: empty where there is no
                    internet, as on the local stack)
``/``               links to both
==================  ========================================================================================

Authentication: Airflow authenticates no plugin app (its docs say so: a mounted app inherits none
of the API's dependencies), so this one does it with Airflow's own pieces. Every route needs a user
signed in to Airflow (the UI's session cookie, or ``Authorization: Bearer`` with a token from
``POST /auth/token``) whom the auth manager allows to read the custom view ``DocsSites``. A browser
that is not signed in is sent to the login page and back; other clients get 401.

Every Airflow process imports the plugins folder, and only the API server serves: FastAPI and
Airflow's API modules (~2 s of imports) are imported inside :func:`create_app`, which the plugin
calls at the first request. Hence also no ``from __future__ import annotations`` here: FastAPI reads
the route functions' annotations, which name classes imported inside :func:`create_app`.
"""

import html
import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from include import docs_sites

RESOURCE_NAME = "DocsSites"
LIST_LIMIT = 200
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1a202c; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #e2e8f0; padding: 0.35rem 0.8rem; text-align: left; }
th { background: #f7fafc; }
.failed { color: #c53030; font-weight: 600; }
.passed { color: #2f855a; }
.note { color: #4a5568; max-width: 60rem; }
"""


def _page(title: str, body: str) -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def quality_page(runs: list[docs_sites.ValidationRun]) -> str:
    """The list of validations: status, suite, day, run time, failed of evaluated, link to the page."""
    rows = []
    for run in runs:
        status = '<span class="passed">passed</span>' if run.success else '<span class="failed">FAILED</span>'
        href = "../gx/" + quote(run.page)
        rows.append(
            f"<tr><td>{status}</td><td>{html.escape(run.suite)}</td><td>{html.escape(run.day)}</td>"
            f"<td>{html.escape(run.run_time_text)}</td><td>{run.failed} of {run.evaluated}</td>"
            f'<td><a href="{html.escape(href)}">Data Docs page</a></td></tr>'
        )
    table = (
        "<table><thead><tr><th>status</th><th>suite</th><th>day</th><th>run time</th>"
        "<th>expectations failed</th><th></th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
        if rows
        else "<p><b>No validation kept yet.</b> dag_daily_etl keeps one per suite and run.</p>"
    )
    intro = (
        '<p class="note">Every great-expectations validation of the daily batch, newest first (the latest '
        f"{LIST_LIMIT}): <code>ad_events_daily</code> checks a day's events before they are loaded, "
        "<code>ad_marts_daily</code> checks that the marts add up after dbt. Each page shows every "
        'expectation with the values that broke it. Suites: <a href="../gx/expectations/ad_events_daily.html">'
        'ad_events_daily</a>, <a href="../gx/expectations/ad_marts_daily.html">ad_marts_daily</a>; '
        '<a href="../gx/index.html">GX\'s own index</a> (its table needs scripts from public CDNs); '
        '<a href="../dbt/">dbt docs</a>.</p>'
    )
    return _page("Data quality", intro + table)


def missing_site_page(site: str) -> str:
    """What a site's address shows before the pipeline wrote it."""
    writer = {
        docs_sites.DBT_SITE: "dag_daily_etl's <code>dbt_docs</code> task writes them after the marts of a day are built",
        docs_sites.GX_SITE: "dag_daily_etl's <code>validate</code> and <code>check_marts</code> tasks write a page per validation",
    }[site]
    return _page(f"No {site} docs yet", f'<p class="note">{writer} (docs/operations.md).</p>')


def landing_page() -> str:
    return _page(
        "Documentation sites",
        '<ul><li><a href="dbt/">dbt docs</a>: models, columns, tests and lineage of the marts</li>'
        '<li><a href="quality/">Data quality</a>: every great-expectations validation and its page</li></ul>',
    )


def create_app(root: Path | None = None) -> Any:
    """The FastAPI app serving ``root`` (default: setting DOCS_DIR); see the module doc."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.responses import HTMLResponse, RedirectResponse, Response
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.staticfiles import StaticFiles

    root = root or docs_sites.docs_root()

    def signed_in_reader(user: Annotated[Any, Depends(get_user)]) -> None:
        if not get_auth_manager().is_authorized_custom_view(
            method="GET", resource_name=RESOURCE_NAME, user=user
        ):
            raise HTTPException(status_code=403, detail=f"{user.get_name()} may not read the docs sites")

    app = FastAPI(
        title="Documentation sites",
        dependencies=[Depends(signed_in_reader)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    static = {
        site: StaticFiles(directory=root / site, html=True, check_dir=False) for site in docs_sites.SITES
    }

    @app.exception_handler(StarletteHTTPException)
    async def to_login(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 401 and "text/html" in request.headers.get("accept", ""):
            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(get_auth_manager().get_url_login(next_url=back), status_code=303)
        return await http_exception_handler(request, exc)

    def framed_by_airflow_only(response: Response) -> Response:
        # The UI shows these pages in an iframe of its own; no other site may frame them.
        response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
    def landing() -> Response:
        return framed_by_airflow_only(HTMLResponse(landing_page()))

    @app.api_route("/quality/", methods=["GET", "HEAD"], response_class=HTMLResponse)
    def quality() -> Response:
        return framed_by_airflow_only(
            HTMLResponse(quality_page(docs_sites.validation_runs(root, LIST_LIMIT)))
        )

    @app.api_route("/{site}/{path:path}", methods=["GET", "HEAD"])
    async def site_file(site: str, path: str, request: Request) -> Response:
        if site not in static:
            raise HTTPException(status_code=404, detail=f"no site {site!r}: {', '.join(docs_sites.SITES)}")
        if not (root / site).is_dir():
            return framed_by_airflow_only(HTMLResponse(missing_site_page(site), status_code=404))
        # Normalised as StaticFiles does for its own mounts; it then refuses anything outside the site,
        # serves index.html for a folder and answers conditional requests.
        relative = os.path.normpath(os.path.join(*path.split("/")))
        return framed_by_airflow_only(await static[site].get_response(relative, request.scope))

    return app


class OnFirstRequest:
    """An ASGI app that builds the real one (``factory()``) when the first request arrives."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.app is None:
            self.app = self.factory()
        await self.app(scope, receive, send)
