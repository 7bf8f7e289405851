"""Memory and disk of the stack during the full run.

Memory is measured like ``make memory`` (local_stack/bin/memory.sh): the proportional set size
(PSS, shared pages split fairly, so sums are honest) of every RUNNING supervisord program and all
its descendants (Airflow's task processes and dbt under the scheduler, PyFlink's Python workers
under the TaskManager), sampled in a background thread for the whole run. The replay this tool
starts is the pipeline's producer: tracked as ``bench:replay`` and counted in the stack's total.
This tool itself (``bench:fullrun``, mostly the DuckDB oracle) is measured but not counted: it
is the instrument, not the stack.

Disk: bytes under each store's directory (DATA_DIR/kafka, the archive root, DATA_DIR/postgres,
the checkpoint directory) at the start and at the end, and what this run's own data occupies (the
raw topic's growth, its days in the archive and in the ETL's Parquet, its PostgreSQL partitions):
other work on the same stack changes the stores' totals, never the latter.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from include import archive

GB = 1024**3
# bytes per event measured by a small full run (bench/results.json "full_small"), used until this
# machine has measured its own; postgres is split into the per-event analytics rows and the
# per-window rows (a window row exists per minute and dimension value, whatever the event count).
DEFAULT_BYTES_PER_EVENT = {
    "kafka": 160.0,
    "archive": 46.0,
    "analytics": 262.0,
    "parquet": 39.0,
    "oracle": 144.0,
    "input_gz": 48.0,
}
DEFAULT_BYTES_PER_WINDOW_ROW = 217.0
# window rows per minute of event time at Avazu volume: 'all', ~400 campaigns, a few device types,
# banner positions and ~30 categories, in the 1-minute windows plus a fifth as many 5-minute ones.
WINDOW_ROWS_PER_MINUTE = 460 * 1.2


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass  # the process ended between listing and reading
    return 0


def process_children() -> dict[int, list[int]]:
    """ppid -> pids of every process, from one pass over /proc."""
    out: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # The command may contain spaces and parentheses: fields start after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def tree_total(root: int, children: dict[int, list[int]], value_of: Callable[[int], float]) -> float:
    """``value_of(pid)`` summed over ``root`` and every process below it."""
    total, stack, seen = 0.0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += value_of(pid)
        stack.extend(children.get(pid, ()))
    return total


def tree_pss_kb(root: int, children: dict[int, list[int]]) -> int:
    return int(tree_total(root, children, _pss_kb))


def supervised_programs(run_dir: Path) -> dict[str, int]:
    """``group:name`` (or ``name`` when alone in its group, as supervisorctl prints) -> pid of
    every RUNNING program, over supervisord's XML-RPC socket (no process start per sample)."""
    import xmlrpc.client

    from supervisor.xmlrpc import SupervisorTransport

    transport = SupervisorTransport(None, None, f"unix://{run_dir / 'supervisor.sock'}")
    proxy: Any = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
    out = {}
    for info in proxy.supervisor.getAllProcessInfo():
        if info["statename"] == "RUNNING" and info["pid"]:
            name = info["name"] if info["group"] == info["name"] else f"{info['group']}:{info['name']}"
            out[name] = int(info["pid"])
    return out


@dataclass
class MemorySampler:
    """Samples PSS per component every ``interval_s`` in a daemon thread; keeps the peaks."""

    run_dir: Path
    interval_s: float = 3.0
    extra: dict[str, int] = field(default_factory=dict)  # bench:<name> -> pid, counted in the total
    tools: dict[str, int] = field(default_factory=dict)  # bench:<name> -> pid, not counted
    peak_kb: dict[str, int] = field(default_factory=dict)
    peak_total_kb: int = 0
    peak_total_at: float = 0.0
    samples: int = 0
    last_total_kb: int = 0
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _programs: dict[str, int] = field(default_factory=dict)
    _programs_at: float = 0.0

    def start(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception:  # a sampler must never end the run; the count goes in the results
                self.errors += 1
            self._stop.wait(self.interval_s)

    def sample(self) -> int:
        now = time.monotonic()
        # Programs only change pid when restarted; asking supervisord every 30 s is plenty.
        if not self._programs or now - self._programs_at > 30:
            self._programs, self._programs_at = supervised_programs(self.run_dir), now
        children = process_children()
        total = 0
        for name, pid in [*self._programs.items(), *dict(self.extra).items()]:
            kb = tree_pss_kb(pid, children)
            total += kb
            self.peak_kb[name] = max(self.peak_kb.get(name, 0), kb)
        for name, pid in dict(self.tools).items():
            # Only the process itself: its children (the replay) are counted as the stack's.
            kb = _pss_kb(pid)
            self.peak_kb[name] = max(self.peak_kb.get(name, 0), kb)
        self.samples += 1
        self.last_total_kb = total
        if total > self.peak_total_kb:
            self.peak_total_kb, self.peak_total_at = total, time.time()
        return total

    def peaks_gb(self) -> dict[str, float]:
        return {k: round(v / 1024**2, 3) for k, v in sorted(self.peak_kb.items(), key=lambda kv: -kv[1])}


def dir_bytes(path: Path) -> int:
    """Allocated bytes of every file under ``path`` (du's view: sparse and preallocated files honest)."""
    total = 0
    for directory, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_blocks * 512
            except OSError:
                continue  # rotated away while walking (Kafka segments, RocksDB files)
    return total


def local_path(uri: str) -> Path | None:
    try:
        return archive.root_path(uri)
    except archive.ArchiveError:
        return None  # an object store: not on this disk


def stores(cfg: dict[str, str]) -> dict[str, Path | None]:
    data = Path(cfg["DATA_DIR"])
    return {
        "kafka": data / "kafka",
        "archive": local_path(cfg["FLINK_ARCHIVE_URI"]),
        "postgres": data / "postgres",
        "checkpoints": local_path(cfg["FLINK_CHECKPOINTS_URI"]),
        "parquet": data / "processed" / "parquet",
    }


def disk_usage(cfg: dict[str, str]) -> dict[str, int]:
    return {name: dir_bytes(path) if path else 0 for name, path in stores(cfg).items()}


def topic_bytes(cfg: dict[str, str], topic: str) -> int:
    """Bytes of one topic's partition directories on the local broker."""
    return sum(dir_bytes(p) for p in (Path(cfg["DATA_DIR"]) / "kafka").glob(f"{topic}-[0-9]*"))


def run_bytes(cfg: dict[str, str], days: list[date]) -> dict[str, int]:
    """Bytes this run's days occupy in the archive and in the daily ETL's Parquet."""
    from include.batch.days import parquet_dir

    root = local_path(cfg["FLINK_ARCHIVE_URI"])
    data = Path(cfg["DATA_DIR"])
    return {
        "archive": sum(dir_bytes(archive.day_dir(root, d)) for d in days) if root else 0,
        "parquet": sum(dir_bytes(parquet_dir(data, d)) for d in days),
    }


@dataclass
class DiskEstimate:
    """Bytes a run of ``rows`` events over ``hours`` hours needs under DATA_DIR, by store."""

    by_store: dict[str, int]
    source: str  # where the per-event figures come from

    @property
    def total(self) -> int:
        return sum(self.by_store.values())


def estimate_disk(
    rows: int,
    hours: int,
    generate: bool,
    measured: dict[str, Any] | None = None,
) -> DiskEstimate:
    """Extrapolates bytes/event: ``measured`` is a previous run's ``estimate_inputs`` (this machine's
    own figures), else the defaults.

    A 25% margin covers Kafka's and PostgreSQL's transient files (segments being written, WAL).
    """
    per_event = dict(DEFAULT_BYTES_PER_EVENT)
    per_window = DEFAULT_BYTES_PER_WINDOW_ROW
    source = "defaults measured during development"
    if measured:
        got = measured.get("bytes_per_event") or {}
        for name in per_event:
            if isinstance(got.get(name), int | float) and got[name] > 0:
                per_event[name] = float(got[name])
        window = measured.get("bytes_per_window_row")
        if isinstance(window, int | float) and window > 0:
            per_window = float(window)
        source = "the last small full run's measurements (results file, estimate_inputs)"
    window_rows = hours * 60 * WINDOW_ROWS_PER_MINUTE
    by_store = {
        "kafka": rows * per_event["kafka"],
        "archive": rows * per_event["archive"],
        "postgres": rows * per_event["analytics"] + window_rows * per_window,
        "parquet": rows * per_event["parquet"],
        "oracle": rows * per_event["oracle"],
        "input": rows * per_event["input_gz"] if generate else 0,
    }
    return DiskEstimate({k: int(v * 1.25) for k, v in by_store.items()}, source)


def free_bytes(path: Path) -> int:
    import shutil

    return shutil.disk_usage(path).free


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
