"""Reading a task's log as Airflow wrote it, for tests that check what a person sees in the UI."""

from __future__ import annotations

from pathlib import Path


def task_log(cfg: dict[str, str], dag_id: str, run_id: str, task_id: str) -> str:
    """The last attempt's log of ``task_id`` in run ``run_id`` of ``dag_id``."""
    logs = Path(cfg["DATA_DIR"]) / "airflow" / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    files = sorted((logs / f"task_id={task_id}").glob("attempt=*.log"))
    assert files, f"no log under {logs}"
    return files[-1].read_text()
