"""bench/cpu.py: CPU time of a process tree, counted whether its children are alive or reaped."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.cpu import CpuMeter, speed_probe_s, tree_seconds
from bench.fullrun_resources import process_children

BURN = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"


def _mine() -> float:
    return tree_seconds(os.getpid(), process_children())


def test_a_running_child_counts_in_its_parents_tree() -> None:
    before = _mine()
    child = subprocess.Popen([sys.executable, "-c", BURN + "time.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while _mine() - before < 0.4:
            assert time.monotonic() < deadline, "the child's CPU never showed in the tree"
            time.sleep(0.1)
    finally:
        child.kill()
        child.wait()


def test_a_reaped_childs_time_stays_in_the_tree_and_in_the_meter() -> None:
    meter = CpuMeter()
    before = _mine()
    subprocess.run([sys.executable, "-c", BURN], check=True)
    assert _mine() - before >= 0.4
    assert meter.split()["bench"] >= 0.4


def test_per_event_us_drops_idle_processes_and_totals_the_rest() -> None:
    spent = {"bench": 0.5, "kafka": 2.0, "redis": 0.001}
    assert CpuMeter.per_event_us(spent, 1_000_000) == {"kafka": 2.0, "bench": 0.5, "total": 2.5}


def test_the_speed_probe_times_its_loop() -> None:
    started = time.perf_counter()
    probe = speed_probe_s()
    elapsed = time.perf_counter() - started
    # 20M interpreted additions cannot take under 50 ms; the result is rounded to the millisecond.
    assert 0.05 < probe <= elapsed + 0.001
