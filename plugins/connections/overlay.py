"""Every task sees the endpoints and credentials its Airflow connections hold.

``use_connections`` is the shared ``pre_execute`` of every task (include/dag_defaults.py): it reads
the pipeline's connections as the task sees them (env var, metastore or secrets backend) and lays
the settings they stand for (include/connection_settings.py) over the task process's environment.
The Airflow-free library reads settings, so the replay, the DLQ retry, the Flink job's submission
and everything they start follow a changed connection, with nothing passed by hand.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from include import config
from include.connection_settings import CONNECTION_SETTINGS, changes, settings_from

log = logging.getLogger(__name__)


def connection_settings() -> dict[str, str]:
    """The settings the pipeline's Airflow connections stand for; a connection that is not
    defined leaves its settings as they are."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    found = {}
    for conn_id in CONNECTION_SETTINGS:
        try:
            found[conn_id] = BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            continue
    return settings_from(found)


def use_connections(context: Any = None) -> None:
    """``pre_execute`` hook: the task's environment takes its settings from the connections."""
    overlay = connection_settings()
    for line in changes(overlay, config.resolve()):
        log.info("setting from an Airflow connection: %s", line)
    os.environ.update(overlay)
