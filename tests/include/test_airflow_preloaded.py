"""include/airflow_preloaded.py is the ``airflow`` command with great-expectations imported first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=180, check=False)


def test_it_is_the_airflow_command_with_the_task_libraries_already_imported() -> None:
    # `airflow version` imports none of them itself, so finding them loaded means the preload did it.
    ours = _run(
        sys.executable,
        "-c",
        "import sys, include.airflow_preloaded as p; sys.argv = ['airflow', 'version']; p.main(); "
        "print('preloaded:', all(m in sys.modules for m in p.PRELOADED))",
    )
    theirs = _run(str(Path(sys.executable).with_name("airflow")), "version")
    assert ours.returncode == 0, ours.stderr[-2000:]
    version, preloaded = ours.stdout.strip().splitlines()[-2:]
    assert version == theirs.stdout.strip() != "" and preloaded == "preloaded: True"
