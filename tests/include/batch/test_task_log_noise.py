"""A validating task's log says what was validated, not how great-expectations registers its API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

IMPORT_AT_INFO = """
import logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
import include.batch.validate, include.batch.marts
import great_expectations
"""


def test_importing_the_suites_at_info_level_logs_at_most_a_few_lines() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_AT_INFO], cwd=REPO, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert not [line for line in lines if "Skipping registering function" in line]
    assert len(lines) <= 5, lines
