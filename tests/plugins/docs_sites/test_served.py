"""The docs sites on the real Airflow API server: signed-in users only, nothing outside the two
sites, and the page a failed validation names is served (GX run here, into the stack's DOCS_DIR)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests

from include import docs_sites

pytestmark = pytest.mark.integration

DAY = date(2013, 1, 13)  # a day no other test loads, outside Avazu's 2014


@pytest.fixture
def failed_validation(tmp_path: Path) -> Iterator[Any]:
    """A day whose events break the suite, validated with the stack's DOCS_DIR as the DAG does."""
    from include.batch.extract import extract_day
    from include.batch.validate import ValidationFailed, load_frame, validate_frame
    from include.ingest.generator import main as generate

    src = tmp_path / "in.csv"
    assert generate(["--rows", "500", "--start-hour", "13011300", "--hours", "24", "--seed", "4",
                     "--out", str(src), "--no-progress"]) == 0  # fmt: skip
    frame = load_frame(extract_day(DAY, "avazu", tmp_path, src).parquet_path)
    frame.loc[9, "cost"] = 0.0  # a free impression
    try:
        with pytest.raises(ValidationFailed) as err:
            validate_frame(frame, DAY, docs_root=docs_sites.docs_root())
        yield err.value
    finally:
        docs_sites.remove_days(docs_sites.docs_root(), [DAY])


def test_the_page_a_failure_names_is_served(bootstrapped: Any, airflow: Any, failed_validation: Any) -> None:
    url = failed_validation.page_url
    assert str(failed_validation).endswith(f"; see {url}")
    page = airflow.session.get(url, timeout=30)
    assert page.status_code == 200, page.text[:300]
    assert "ad_events_daily" in page.text and DAY.isoformat() in page.text and "cost" in page.text
    quality = airflow.session.get(f"{airflow.base_url}/docs-sites/quality/", timeout=30).text
    (row,) = [r for r in quality.split("<tr>") if DAY.isoformat() in r]
    assert "FAILED" in row and "1 of 17" in row


def test_nothing_is_served_to_someone_not_signed_in(bootstrapped: Any, airflow: Any) -> None:
    base = f"{airflow.base_url}{docs_sites.URL_PREFIX}"
    for path in ("/quality/", "/dbt/", "/gx/index.html", "/"):
        assert requests.get(base + path, timeout=30).status_code == 401, path
    bad = requests.get(base + "/quality/", headers={"Authorization": "Bearer forged"}, timeout=30)
    assert bad.status_code in (401, 403)
    # A browser is sent to the login page, and back here once signed in.
    browser = requests.get(
        base + "/quality/", headers={"Accept": "text/html"}, allow_redirects=False, timeout=30
    )
    assert browser.status_code == 303
    assert browser.headers["location"].endswith("/auth/login?next=%2Fdocs-sites%2Fquality%2F")


def test_only_the_two_sites_are_served(bootstrapped: Any, airflow: Any) -> None:
    base = f"{airflow.base_url}{docs_sites.URL_PREFIX}"
    # The GX result store beside the sites, the settings file two levels up, another folder.
    for path in ("/gx/%2e%2e/gx_results/validations/.ge_store_backend_id", "/gx/..%2f..%2f..%2f.env",
                 "/gx_results/validations/.ge_store_backend_id"):  # fmt: skip
        resp = airflow.session.get(base + path, timeout=30)
        assert resp.status_code == 404, (path, resp.status_code, resp.text[:200])
