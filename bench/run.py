"""Benchmarks: ``python -m bench.run [section ...]`` (``make bench``), results in bench/results.json.

One key per section; a run replaces only the sections it ran, so other benchmarks' results stay.
Sections: ``ingest`` (bench/ingest.py), ``batch`` (bench/batch.py), ``realtime`` (bench/realtime.py),
``backfill`` (bench/backfill.py), ``latency`` (bench/latency.py). Run against the local stack (``local_stack/bin/run.sh``).
Each section also records ``speed_probe_s``: one fixed Python loop timed before and after it, to
tell a slower machine from a slower pipeline when comparing runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.cpu import speed_probe_s

RESULTS = Path(__file__).resolve().parent / "results.json"


def _ingest(args: argparse.Namespace) -> dict[str, Any]:
    from bench import ingest

    return ingest.run(rows=args.rows, naive_rows=args.naive_rows)


def _batch(args: argparse.Namespace) -> dict[str, Any]:
    from bench import batch

    return batch.run(rows=args.batch_rows)


def _realtime(args: argparse.Namespace) -> dict[str, Any]:
    from bench import realtime

    return realtime.run(rows=args.realtime_rows, before_job=args.realtime_before)


def _backfill(args: argparse.Namespace) -> dict[str, Any]:
    from bench import backfill

    return backfill.run(rows=args.backfill_rows)


def _latency(args: argparse.Namespace) -> dict[str, Any]:
    from bench import latency

    return latency.run(minutes=args.latency_minutes, rate=args.latency_rate)


SECTIONS = {
    "ingest": _ingest,
    "batch": _batch,
    "realtime": _realtime,
    "backfill": _backfill,
    "latency": _latency,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "sections", nargs="*", default=sorted(SECTIONS), help=f"any of {sorted(SECTIONS)} (default all)"
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="ingest: rows to publish (default 1M)")
    parser.add_argument("--naive-rows", type=int, default=100_000, help="ingest: rows for the naive baseline")
    parser.add_argument(
        "--batch-rows", type=int, default=4_000_000, help="batch: rows of the day (default 4M)"
    )
    parser.add_argument(
        "--realtime-rows", type=int, default=2_000_000, help="realtime: generated events (default 2M)"
    )
    parser.add_argument(
        "--backfill-rows", type=int, default=4_000_000, help="backfill: rows of the day (default 4M)"
    )
    parser.add_argument(
        "--latency-minutes", type=float, default=10, help="latency: minutes of live replay (default 10)"
    )
    parser.add_argument(
        "--latency-rate", type=int, default=100, help="latency: events per second of the live replay"
    )
    parser.add_argument(
        "--realtime-before",
        type=Path,
        help="realtime: also time this job.py (another checkout's) on the same topic, for a before/after ratio",
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="results file (default bench/results.json)"
    )
    args = parser.parse_args(argv)
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; known: {sorted(SECTIONS)}")
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    for section in args.sections:
        probe_before = speed_probe_s()
        results[section] = SECTIONS[section](args)
        results[section]["speed_probe_s"] = {"before": probe_before, "after": speed_probe_s()}
        args.results.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        print(json.dumps({section: results[section]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
