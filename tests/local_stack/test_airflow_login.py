"""The Airflow API server takes the login of .env (generated per setup) and nothing else: the
well-known admin/admin of earlier setups no longer logs in unless .env still says so."""

from __future__ import annotations

import pytest
import requests

from include.airflow_api import AirflowApiError, AirflowClient

pytestmark = pytest.mark.integration


def _token_status(cfg: dict[str, str], password: str) -> int:
    body = {"username": cfg["AIRFLOW_ADMIN_USER"], "password": password}
    return requests.post(f"{cfg['AIRFLOW_URL']}/auth/token", json=body, timeout=30).status_code


def test_the_configured_login_works_and_a_guessed_one_is_refused(cfg: dict[str, str]) -> None:
    client = AirflowClient(cfg["AIRFLOW_URL"], cfg["AIRFLOW_ADMIN_USER"], cfg["AIRFLOW_ADMIN_PASSWORD"])
    assert client._call("GET", "/dags", params={"limit": 1})["total_entries"] >= 1
    # 'admin' is the guess that matters; a setup that kept it (and is warned by make up) gets another.
    guess = "admin" if cfg["AIRFLOW_ADMIN_PASSWORD"] != "admin" else "admin-guess"
    assert _token_status(cfg, guess) in (401, 403)
    with pytest.raises(AirflowApiError, match="login as 'admin' failed"):
        AirflowClient(cfg["AIRFLOW_URL"], cfg["AIRFLOW_ADMIN_USER"], guess)
