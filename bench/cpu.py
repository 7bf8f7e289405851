"""CPU time per process, to report each benchmark's cost as CPU microseconds per event.

A :class:`CpuMeter` reads, at its start and at each :meth:`CpuMeter.split`, the CPU seconds
(user + system) of

- ``bench``: this process and every child it has reaped (the producer's sender processes, dbt);
- each program supervisord runs (``kafka``, ``flink-taskmanager``, ``postgres``, ``airflow:...``):
  the whole process tree under the program's pid, children reaped by it included (PostgreSQL's
  backends, Airflow's task processes).

Wall-clock rates on a 2-core machine shared by the whole stack say little on their own; the CPU
each process spent per event says where the cores went.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

from bench.fullrun_resources import process_children, supervised_programs, tree_total
from include import config

_TICKS = os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _stat_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of one process (its reaped children's time included)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # ended between listing and reading
    return sum(int(f) for f in fields[11:15]) / _TICKS


def tree_seconds(root: int, children: dict[int, list[int]]) -> float:
    return tree_total(root, children, _stat_seconds)


def snapshot(run_dir: Path | None = None) -> dict[str, float]:
    """CPU seconds so far of ``bench`` and of every running supervised program's tree."""
    run_dir = run_dir or config.data_dir() / "run"
    out = {"bench": _own_seconds()}
    try:
        programs = supervised_programs(run_dir)
    except OSError:
        return out  # no local stack (remote services): only our own time is known
    children = process_children()
    for name, pid in programs.items():
        out[name] = tree_seconds(pid, children)
    return out


class CpuMeter:
    """CPU seconds spent by each process between splits; ``per_event_us`` turns them into a rate."""

    def __init__(self) -> None:
        self._last = snapshot()

    def split(self) -> dict[str, float]:
        """Seconds each process spent since the meter started or the previous split."""
        now = snapshot()
        spent = {name: now[name] - self._last.get(name, now[name]) for name in now}
        self._last = now
        return spent

    @staticmethod
    def per_event_us(spent: dict[str, float], events: int, floor_s: float = 0.05) -> dict[str, float]:
        """CPU µs per event of each process that spent at least ``floor_s``, plus their ``total``,
        largest first."""
        busy = {name: s for name, s in spent.items() if s >= floor_s}
        out = {name: round(s * 1e6 / events, 2) for name, s in sorted(busy.items(), key=lambda kv: -kv[1])}
        out["total"] = round(sum(busy.values()) * 1e6 / events, 2)
        return out


def speed_probe_s() -> float:
    """Wall seconds of one fixed single-thread Python loop (20M additions).

    The cores of a shared machine are not equally fast from one hour to the next; recorded beside
    each result, it tells whether two runs' rates can be compared at all.
    """
    started = time.perf_counter()
    total = 0
    for i in range(20_000_000):
        total += i
    return round(time.perf_counter() - started, 3)
