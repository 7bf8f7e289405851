"""`make demo`'s command run as a user runs it, and what its report must say."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE_ROWS = 100
FIVE_MINUTE_WINDOWS_PER_HOUR = 12


@dataclass(frozen=True)
class DemoReport:
    marts_day: date
    day_impressions: int
    day_clicks: int
    run_ids: dict[str, str]  # dag_id -> the run the demo triggered


def run_demo(env: Mapping[str, str] | None = None, timeout: float = 900) -> DemoReport:
    """Runs ``python -m include.demo`` and checks its report: every sample row published, the windows
    equal to the oracle (all twelve 5-minute windows, also in Redis), the marts equal to the windows."""
    result = subprocess.run(
        [sys.executable, "-m", "include.demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else dict(env),
    )
    out = result.stdout
    assert result.returncode == 0, f"{out[-3000:]}\n{result.stderr[-3000:]}"
    published = f"{SAMPLE_ROWS} rows read, {SAMPLE_ROWS} published to "
    assert published in out and ", 0 dead-lettered, 0 failed" in out, out[-3000:]
    match = re.search(r"(\d+) rows for the sample, equal to the oracle .*?(\d+) of (\d+) 5-minute", out)
    assert match, out[-3000:]
    assert int(match.group(1)) > 0, match.group(0)
    assert match.group(2) == match.group(3) == str(FIVE_MINUTE_WINDOWS_PER_HOUR), match.group(0)
    table = [line for line in out.splitlines() if re.match(r"\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}\s+\d+", line)]
    assert len(table) == FIVE_MINUTE_WINDOWS_PER_HOUR, table
    assert sum(int(line.split()[2]) for line in table) == SAMPLE_ROWS, table
    marts = re.search(r"==> analytics marts for (\d{4}-\d{2}-\d{2}): equal to the streamed windows", out)
    assert marts, out[-3000:]
    day = date.fromisoformat(marts.group(1))
    summary = re.search(rf"^\s+{day}\s+(\d+)\s+(\d+)\s", out, re.MULTILINE)
    assert summary, out[-3000:]
    assert "Dashboards" in out and "Flink UI" in out, out[-3000:]
    runs = dict(re.findall(r"==> triggering (\w+) through the Airflow REST API\n\s+(\S+): success", out))
    return DemoReport(day, int(summary.group(1)), int(summary.group(2)), runs)
