"""Airflow hook for Airflow's own REST API, as the pipeline's login: it writes a run's outcome where
people look first, the run's note."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseHook

from include.airflow_api import AirflowClient

log = logging.getLogger(__name__)


class AirflowApiHook(BaseHook):
    """Owns the ``airflow_api`` connection: host = the API server's base URL, login and password =
    AIRFLOW_PIPELINE_USER and its password (role ``user``).

    :param airflow_api_conn_id: connection id. Default: ``airflow_api``.
    """

    conn_name_attr = "airflow_api_conn_id"
    default_conn_name = "airflow_api"
    conn_type = "http"
    hook_name = "Airflow REST API"

    def __init__(self, airflow_api_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.airflow_api_conn_id = airflow_api_conn_id

    def get_conn(self) -> AirflowClient:
        conn = self.get_connection(self.airflow_api_conn_id)
        if not conn.host or not conn.login:
            raise ValueError(
                f"connection {self.airflow_api_conn_id!r} needs a host and a login: set AIRFLOW_CONN_AIRFLOW_API"
            )
        return AirflowClient(conn.host, conn.login, conn.password or "")

    def note_outcome(self, context: Any, note: str) -> bool:
        """Sets the note of the run ``context`` belongs to; False (and a warning) when it could not.

        A note is what a person reads first, not what the run produced: failing to write it never
        fails the task.
        """
        try:
            dag_run = context["dag_run"]
            self.get_conn().set_run_note(dag_run.dag_id, dag_run.run_id, note)
            return True
        except Exception as exc:  # no connection, API away, login refused: the task's work still stands
            log.warning("could not write the run's note (%s); the outcome is in this log: %s", exc, note)
            return False
