"""Links into the Airflow UI as people reach it (setting AIRFLOW_EXTERNAL_URL).

The stack's own processes reach Airflow at AIRFLOW_URL (and Airflow builds its links from its own
api.base_url); a person's browser may reach it elsewhere (a proxy, a host name). Every link the
pipeline hands to people (Slack messages, error messages, the docs sites) is built here.
"""

from __future__ import annotations

from collections.abc import Mapping

from include import config


def ui_url(path: str = "", cfg: Mapping[str, str] | None = None) -> str:
    """``path`` (e.g. ``/dags/dag_dlq_retry``) on the Airflow UI as people reach it."""
    base = (cfg if cfg is not None else config.resolve())["AIRFLOW_EXTERNAL_URL"].rstrip("/")
    return f"{base}/{path.lstrip('/')}" if path else base


def rebase(url: str, cfg: Mapping[str, str] | None = None) -> str:
    """``url``, a link Airflow built into its own UI, moved onto the UI as people reach it.

    Every UI page is under ``/dags/``; anything else (an empty log URL, a foreign address) is
    returned unchanged.
    """
    at = url.find("/dags/")
    return ui_url(url[at:], cfg) if at >= 0 else url
