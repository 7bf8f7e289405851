"""The ``airflow`` command, with the libraries of the pipeline's slowest-starting tasks already imported.

``python -m include.airflow_preloaded scheduler`` runs ``airflow scheduler``. The local stack starts
its scheduler and its Celery worker (CeleryExecutor only) this way, docker-compose its scheduler,
because each runs tasks in processes *forked* from itself: LocalExecutor's workers are forked from
the scheduler and every task from a worker; Celery's pool processes from the worker, likewise. A task then finds great-expectations (with pandas, pyarrow, scipy and
SQLAlchemy, which it imports) already in memory. Importing it takes 4-10 s of CPU, and the daily
ETL's ``validate`` and ``check_marts`` each paid that on every run.

Importing these libraries starts no thread, so forking after it is as safe as forking before it.
Nothing else changes: the arguments are the ``airflow`` command's own.
"""

from __future__ import annotations

import importlib
import sys

PRELOADED = ("great_expectations",)
"""Modules imported before Airflow starts, each a library a task would otherwise import itself. Like
the plugins the scheduler loads, they are what its tasks run until ``make reload`` restarts it."""


def main() -> int:
    for module in PRELOADED:
        importlib.import_module(module)
    from airflow.__main__ import main as airflow_main

    sys.argv[0] = "airflow"
    return airflow_main() or 0


if __name__ == "__main__":
    sys.exit(main())
