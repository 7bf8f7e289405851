"""Submitting a PyFlink job to a session cluster with Flink's own client (``flink run``).

The client plans the job here and hands it to the cluster at FLINK_REST_URL over the REST API only
(the job graph, the format jar and the job's Python functions travel with the submission), so the
cluster may be remote: it needs its own Flink with the connector jars and FLINK_PYTHON_EXECUTABLE,
nothing of this machine's paths.

Airflow-free: the Airflow operator, the health DAG, the benchmarks and a shell submit the same way.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from include import config
from include.flink_jobs.common.state import state_dirs

_JOB_ID = re.compile(r"JobID ([0-9a-f]{32})")


class FlinkSubmitError(RuntimeError):
    """The Flink client could not submit the job (its output's last lines say why)."""


class IncompatibleStateError(FlinkSubmitError):
    """The state to restore belongs to another plan of the job (its SQL changed): retrying cannot help."""


# Flink's wording when a checkpoint holds state of an operator the new plan does not have.
_STATE_MISMATCH = re.compile(r"Cannot map checkpoint/savepoint state for operator (\w+) to the new program")


@dataclass(frozen=True)
class JobSpec:
    """What to submit: a PyFlink file, its arguments, and environment variables for secrets."""

    name: str
    py_file: Path
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def rest_options(rest_url: str) -> list[str]:
    """``flink run`` options that send the submission to ``rest_url`` (FLINK_REST_URL), whatever
    address the client's Flink configuration names: health checks and submissions see one cluster."""
    parsed = urlparse(rest_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise FlinkSubmitError(f"FLINK_REST_URL {rest_url!r} is not http(s)://host:port")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    options = ["-D", f"rest.address={parsed.hostname}", "-D", f"rest.port={port}"]
    if parsed.scheme == "https":  # the truststore comes from the client's configuration (FLINK_CONF_DIR)
        options += ["-D", "security.ssl.rest.enabled=true"]
    return options


def submit(spec: JobSpec, restore_from: str | None = None, timeout: float = 300.0) -> str:
    """Submits ``spec`` detached to the session cluster; returns the new job id.

    - ``-t remote`` with ``-D`` options pins the cluster (FLINK_REST_URL), the job's name, its
      per-name checkpoint directory and the TaskManagers' Python (FLINK_PYTHON_EXECUTABLE).
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
        *rest_options(cfg["FLINK_REST_URL"]),
        "-D",
        f"python.executable={cfg['FLINK_PYTHON_EXECUTABLE']}",
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
        raise submit_failure(spec.name, restore_from, result.returncode, output)
    return match.group(1)


def submit_failure(name: str, restore_from: str | None, returncode: int, output: str) -> FlinkSubmitError:
    """The error for a ``flink run`` that printed ``output`` and gave no job id."""
    if restore_from and (mismatch := _STATE_MISMATCH.search(output)):
        return IncompatibleStateError(
            f"{name}: the state in {restore_from} does not fit this version of the job (operator "
            f"{mismatch.group(1)} is not in its plan: the job's SQL changed since that state was taken). "
            "Either deploy the version that wrote it, or start from scratch: trigger dag_flink_deploy "
            "with restore=none (every window is recomputed from the topic's earliest offsets and "
            "upserted onto the same rows; the daily ETL drops the events archived twice)."
        )
    tail = "\n".join(line for line in output.splitlines()[-25:] if line.strip())
    return FlinkSubmitError(f"`flink run` of {name} failed (exit {returncode}):\n{tail}")
