"""The settings the DLQ code reads, robust to a long-running process that predates them.

Airflow's LocalExecutor forks task processes from workers started with the scheduler; those already
imported ``include.config`` (through the plugins) and keep the module they loaded at start. After an
upgrade that adds settings, such a worker would see a ``SETTINGS`` without them until the scheduler
restarts; :func:`resolve` reloads ``include.config`` once in that case instead of failing.
"""

from __future__ import annotations

import importlib

from include import config

_MARKER = "DLQ_PAYLOAD_RETENTION_DAYS"  # the newest DLQ setting


def resolve() -> dict[str, str]:
    """``include.config.resolve()``, with every DLQ setting present."""
    global config
    if _MARKER not in config.resolve():
        config = importlib.reload(config)
    return config.resolve()
