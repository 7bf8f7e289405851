"""Submitting PyFlink jobs to a session cluster with Flink's own client, and finding their state.

Airflow-free: the Airflow operator and the health DAG call these, and so can a shell.

Checkpoints and savepoints of a job live under ``<checkpoints URI>/<job name>/`` and
``<savepoints URI>/<job name>/``: grouping them by job *name* (job ids change at every
submission) is what lets a resubmission find the newest state of "the same" job.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from include import config

_JOB_ID = re.compile(r"JobID ([0-9a-f]{32})")


class FlinkSubmitError(RuntimeError):
    """The Flink client could not submit the job (its output's last lines say why)."""


@dataclass(frozen=True)
class JobSpec:
    """What to submit: a PyFlink file, its arguments, and environment variables for secrets."""

    name: str
    py_file: Path
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def local_path(uri: str) -> Path:
    """``file:/x``, ``file:///x`` or ``/x`` -> ``Path('/x')`` (Flink itself writes ``file:/x``)."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        raise ValueError(f"{uri} is not a local path")
    return Path(parsed.path)


def state_dirs(job_name: str, cfg: dict[str, str] | None = None) -> tuple[str, str]:
    """The (checkpoints, savepoints) URIs of ``job_name``."""
    cfg = cfg or config.resolve()
    return (
        f"{cfg['FLINK_CHECKPOINTS_URI'].rstrip('/')}/{job_name}",
        f"{cfg['FLINK_SAVEPOINTS_URI'].rstrip('/')}/{job_name}",
    )


def latest_state(job_name: str, cfg: dict[str, str] | None = None) -> str | None:
    """The newest completed checkpoint or savepoint of ``job_name`` (a directory with ``_metadata``).

    Only ``file://`` URIs can be listed here; on object stores the caller passes the path it got
    from the REST API instead. A state directory without ``_metadata`` is an incomplete one and
    is ignored.
    """
    newest: tuple[float, str] | None = None
    for uri in state_dirs(job_name, cfg):
        parsed = urlparse(uri)
        if parsed.scheme not in ("", "file"):
            continue
        root = Path(parsed.path)
        if not root.is_dir():
            continue
        for meta in root.glob("**/_metadata"):
            mtime = meta.stat().st_mtime
            if newest is None or mtime > newest[0]:
                newest = (mtime, f"file://{meta.parent}")
    return newest[1] if newest else None


def submit(spec: JobSpec, restore_from: str | None = None, timeout: float = 300.0) -> str:
    """Submits ``spec`` detached to the session cluster; returns the new job id.

    - ``-t remote`` with ``-D`` options pins the job's name and its per-name checkpoint directory.
    - ``restore_from`` is a checkpoint/savepoint path (``-s``); state of operators that no longer
      exist is refused (no ``--allowNonRestoredState``): a silent partial restore would lose counts.
    """
    cfg = config.resolve()
    checkpoints, savepoints = state_dirs(spec.name, cfg)
    command = [
        cfg["FLINK_CLI"],
        "run",
        "-t",
        "remote",
        "-d",
        "-D",
        f"pipeline.name={spec.name}",
        "-D",
        f"state.checkpoints.dir={checkpoints}",
        "-D",
        f"state.savepoints.dir={savepoints}",
    ]
    if restore_from:
        command += ["-s", restore_from]
    command += ["-py", str(spec.py_file), *spec.args]
    env = {
        **os.environ,
        "FLINK_CONF_DIR": cfg["FLINK_CONF_DIR"],
        "FLINK_LIB_DIR": cfg["FLINK_LIB_DIR"],
        **dict(spec.env),
    }
    try:
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise FlinkSubmitError(f"Flink client not found at {cfg['FLINK_CLI']}: run `make install`") from exc
    except subprocess.TimeoutExpired as exc:
        raise FlinkSubmitError(f"`flink run` did not finish within {timeout:.0f}s") from exc
    output = result.stdout + result.stderr
    match = _JOB_ID.search(output)
    if result.returncode != 0 or not match:
        tail = "\n".join(line for line in output.splitlines()[-25:] if line.strip())
        raise FlinkSubmitError(f"`flink run` of {spec.name} failed (exit {result.returncode}):\n{tail}")
    return match.group(1)
