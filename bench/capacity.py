"""Capacity model: what an event rate and a retention need, from the costs measured on this machine.

``python -m bench.capacity [--rate N ...] [--retention-days D ...] [--json]`` (``make capacity``)
reads ``bench/results.json`` (written by ``make bench`` and ``make fullrun``) and prints, for each
rate and retention: Kafka partitions, Flink parallelism, cores, memory, disk and PostgreSQL write
rates; then the model's prediction for this machine next to what the benchmarks measured.
docs/capacity.md explains the model, its inputs and its limits.

Every cost is per event (or per window row) and comes from one section of the results file; what
no benchmark measures is an assumption, named as such in the output. Pure Python, no stack needed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"
DAY_S = 86_400
GB = 1e9

# bench/realtime.py's default window of event time; results before it recorded its hours lack it.
REALTIME_DEFAULT_HOURS = 4

# Distinct values per dimension of the window SQL (include/metrics_contract.py DIMENSIONS).
CARDINALITY_PROFILES: dict[str, dict[str, int]] = {
    # include/ingest/generator.py's pools: every value it can draw (what every benchmark streamed; a
    # seed may lack a rare category, drawn per publisher). tests/bench/test_capacity.py checks them.
    "generator": {
        "campaign": 400,
        "device_type": 4,
        "site_category": 15,
        "app_category": 15,
        "banner_pos": 7,
    },
    # The real train.gz's distinct counts as public analyses of it report them (C17, device_type,
    # site_category, app_category, banner_pos): NOT measured here, the file is not on this machine.
    "avazu": {"campaign": 435, "device_type": 5, "site_category": 26, "app_category": 36, "banner_pos": 7},
}
WINDOW_SIZES_MIN = (1, 5)  # include/metrics_contract.py WINDOW_SIZES_S

# Assumptions: no benchmark here measures these (docs/capacity.md "Assumptions").
ASSUMPTIONS: dict[str, str] = {
    "utilization": "components are sized to run at this share of their cores (headroom to catch up after a restart)",
    "replication": "Kafka replication factor in production (this machine runs 1); each replica costs the leader's "
    "append CPU and the same disk",
    "page_cache_minutes": "each broker keeps this many minutes of the topic in page cache, so a consumer "
    "that falls behind reads from memory",
    "cores_per_flink_instance": "one parallel instance of the job gets the cores it had in make bench realtime",
    "state": "checkpoints and the job's state scale with open window combinations, not with rate or "
    "retention: the measured size is used as is",
    "saturation": "at >= ~5,000 events a minute every dimension value appears in every minute, so "
    "window rows per minute depend on the cardinalities only",
}
DEFAULT_UTILIZATION = 0.7
DEFAULT_REPLICATION = 3
DEFAULT_PAGE_CACHE_MINUTES = 10.0
FULL_RUN_KEYS = ("full", "chaos", "full_small")
# How far a prediction for this machine may be from the measurement (predicted / measured, either
# way) before the model is wrong: throughput on a machine shared by several engineers (load average
# about 2 to 17 across the committed runs) moves by tens of percent between runs; bytes do not.
TOLERANCE: dict[str, float] = {"throughput": 1.5, "seconds": 1.5, "window_rows": 1.10, "bytes": 1.05}
# A full run is inside the model's domain when window rows are a small share of the work.
MAX_WINDOW_ROWS_PER_EVENT = 0.5


class CapacityError(Exception):
    """A missing or unusable input: one line for the user."""


@dataclass(frozen=True)
class Figure:
    """One input of the model: its value, unit and where it was measured (or that it is assumed)."""

    value: float
    unit: str
    source: str


@dataclass(frozen=True)
class Costs:
    """Per-event costs and fixed sizes of this machine's measurements (see costs_from_results)."""

    cores_measured: float
    producer_core_us: Figure
    broker_core_us: Figure
    flink_core_us: Figure
    etl_core_us_per_row: Figure
    etl_wall_us_per_row: Figure
    etl_overhead_s_per_day: Figure
    copy_rows_per_s: Figure
    bytes_per_event: dict[str, Figure]
    bytes_per_window_row: Figure
    checkpoints_gb: Figure
    memory_gb: dict[str, Figure]
    flink_events_per_s: float
    ingest_events_per_s: float


@dataclass(frozen=True)
class Scenario:
    rate: float  # events per second, sustained
    retention_days: float
    kafka_retention_days: float
    utilization: float = DEFAULT_UTILIZATION
    replication: int = DEFAULT_REPLICATION
    page_cache_minutes: float = DEFAULT_PAGE_CACHE_MINUTES
    cardinalities: Mapping[str, int] = field(default_factory=lambda: CARDINALITY_PROFILES["generator"])


@dataclass(frozen=True)
class Needs:
    """What one scenario needs; cores and memory are totals over machines, disk is GB."""

    rate: float
    retention_days: float
    kafka_partitions: int
    flink_parallelism: int
    producer_processes: int
    cores: dict[str, float]
    memory_gb: dict[str, float]
    disk_gb: dict[str, float]
    kafka_write_mb_s: float
    window_rows_per_min: float
    pg_window_rows_per_s: float
    pg_event_rows_per_s: float
    pg_event_rows_over_copy_ceiling: float
    etl_hours_per_day_one_pipeline: float


@dataclass(frozen=True)
class Check:
    """The model's prediction for this machine against a measurement."""

    what: str
    kind: str  # a TOLERANCE key
    predicted: float
    measured: float
    source: str
    note: str = ""
    judged: bool = True  # inside the model's domain and not an input of the model itself

    @property
    def ratio(self) -> float:
        return self.predicted / self.measured if self.measured else math.inf

    @property
    def within_tolerance(self) -> bool:
        tolerance = TOLERANCE[self.kind]
        return 1 / tolerance <= self.ratio <= tolerance


# ---------------------------------------------------------------- inputs


def load_results(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CapacityError(f"{path} not found: run make bench and make fullrun first") from None
    except json.JSONDecodeError as exc:
        raise CapacityError(f"{path} is not JSON ({exc}): restore it from git") from None


def _section(results: Mapping[str, Any], key: str, producer: str) -> Mapping[str, Any]:
    section = results.get(key)
    if not isinstance(section, Mapping):
        raise CapacityError(f"the results file has no '{key}' section: run {producer}")
    return section


def full_runs(results: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The make fullrun sections present, by key."""
    runs = {k: results[k] for k in FULL_RUN_KEYS if isinstance(results.get(k), Mapping)}
    if not runs:
        raise CapacityError(
            "the results file has no full run ('full', 'chaos' or 'full_small'): run make fullrun"
        )
    return runs


def largest_run(runs: Mapping[str, Mapping[str, Any]]) -> str:
    """The run with the most rows: its bytes per event carry the least per-file overhead."""
    return max(runs, key=lambda k: runs[k]["rows"])


def smallest_run(runs: Mapping[str, Mapping[str, Any]]) -> str:
    """The run with the fewest rows: its ETL time is mostly each day's fixed overhead."""
    return min(runs, key=lambda k: runs[k]["rows"])


def _ingest_costs(ingest: Mapping[str, Any]) -> tuple[Figure, Figure, float]:
    """Producer and broker core-µs per event: the bench's wall rate on all cores, split by their CPU shares."""
    cores = ingest["machine"]["cpus"]
    rate = ingest["events_per_s"]["ours"]
    cpu = ingest["cpu_us_per_row"]
    producer_cpu, broker_cpu = cpu["ours"], cpu["broker_during_ours"]
    whole = cores * 1e6 / rate
    share = producer_cpu / (producer_cpu + broker_cpu)
    src = (
        f"make bench ingest: {rate:,} ev/s on {cores} cores, split by CPU µs/row "
        f"(producer {producer_cpu}, broker {broker_cpu})"
    )
    return (
        Figure(whole * share, "core-µs/event", src),
        Figure(whole * (1 - share), "core-µs/event", src),
        rate,
    )


def _etl_costs(batch: Mapping[str, Any]) -> tuple[Figure, Figure, Figure]:
    stages = ("extract_s", "validate_s", "load_s", "dbt_s")
    wall_us = sum(batch[s] for s in stages) * 1e6 / batch["rows"]
    src = f"make bench batch: extract+validate+load+dbt of {batch['rows']:,} rows on {batch['cores']} cores"
    copy_src = f"make bench batch: plain COPY of {batch['rows']:,} rows ({batch['baseline_copy_s']} s)"
    return (
        Figure(wall_us * batch["cores"], "core-µs/row", src),
        Figure(wall_us, "wall-µs/row", src),
        Figure(batch["rows"] / batch["baseline_copy_s"], "rows/s", copy_src),
    )


def _etl_overhead(run_key: str, run: Mapping[str, Any], wall_us_per_row: float) -> Figure:
    """Airflow, dbt and task start-up per daily run: the smallest full run's ETL minus its rows' share."""
    runs = len(run["etl_days"])
    # Never negative: a run faster than the bench's per-row cost has no overhead left to measure.
    overhead = max(0.0, (run["etl_runs_sum_s"] - run["rows"] * wall_us_per_row / 1e6) / runs)
    return Figure(overhead, "s/day", f"make fullrun ({run_key}, {run['rows']:,} rows, {runs} days)")


def _memory(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, Figure]:
    """Each component's peak PSS (GB) in the largest run without injected faults (a killed scheduler
    leaves orphans that inflate its memory), else the largest run."""
    calm = {k: r for k, r in runs.items() if not r.get("faults")} or runs
    key = largest_run(calm)
    return {
        name: Figure(gb, "GB", f"make fullrun ({key}) peak PSS")
        for name, gb in calm[key]["memory_peak_gb_by_component"].items()
        if not name.startswith("bench:fullrun")  # the benchmark's own oracle, not part of a deployment
    }


def costs_from_results(results: Mapping[str, Any]) -> Costs:
    ingest = _section(results, "ingest", "make bench BENCH_ARGS=ingest")
    realtime = _section(results, "realtime", "make bench BENCH_ARGS=realtime")
    batch = _section(results, "batch", "make bench BENCH_ARGS=batch")
    runs = full_runs(results)
    producer, broker, ingest_rate = _ingest_costs(ingest)
    flink = Figure(
        realtime["cores"] * 1e6 / realtime["events_per_s"],
        "core-µs/event",
        f"make bench realtime: the deployed job (archive on), {realtime['events_per_s']:,} ev/s on "
        f"{realtime['cores']} cores, parallelism 1",
    )
    etl_core, etl_wall, copy_rate = _etl_costs(batch)
    small, big = smallest_run(runs), largest_run(runs)
    inputs = runs[big]["estimate_inputs"]
    src = f"make fullrun ({big}, {runs[big]['rows']:,} rows)"
    per_event = {
        store: Figure(inputs["bytes_per_event"][name], "bytes/event", src)
        for store, name in (("kafka", "kafka"), ("archive", "archive"), ("postgres_events", "analytics"),
                            ("etl_parquet", "parquet"))
    }  # fmt: skip
    return Costs(
        cores_measured=realtime["cores"],
        producer_core_us=producer,
        broker_core_us=broker,
        flink_core_us=flink,
        etl_core_us_per_row=etl_core,
        etl_wall_us_per_row=etl_wall,
        etl_overhead_s_per_day=_etl_overhead(small, runs[small], etl_wall.value),
        copy_rows_per_s=copy_rate,
        bytes_per_event=per_event,
        bytes_per_window_row=Figure(inputs["bytes_per_window_row"], "bytes/row", src),
        checkpoints_gb=Figure(
            runs[big]["disk_gb"]["checkpoints"], "GB", f"{src}, checkpoint directory at the end"
        ),
        memory_gb=_memory(runs),
        flink_events_per_s=realtime["events_per_s"],
        ingest_events_per_s=ingest_rate,
    )


# ---------------------------------------------------------------- the model


def window_rows_per_minute(cardinalities: Mapping[str, int]) -> float:
    """Rows written per minute once every value appears each minute: per window size, one row for
    ``all`` plus one per value of each dimension, a 5-minute window's rows spread over its 5 minutes."""
    per_window = 1 + sum(cardinalities.values())
    return sum(per_window / minutes for minutes in WINDOW_SIZES_MIN)


def cores_for(rate: float, core_us_per_event: float, utilization: float) -> float:
    return rate * core_us_per_event / 1e6 / utilization


def flink_parallelism(rate: float, costs: Costs, utilization: float) -> int:
    """Instances of the job, each with the cores one instance had in make bench."""
    per_instance = costs.flink_events_per_s * utilization
    return max(1, math.ceil(rate / per_instance))


def producer_processes(rate: float, costs: Costs, utilization: float) -> int:
    """Sender processes, one core each (the replay runs one sender per partition)."""
    return max(1, math.ceil(cores_for(rate, costs.producer_core_us.value, utilization)))


def kafka_partitions(parallelism: int, senders: int) -> int:
    """Every source instance reads at least one partition and every sender writes its own."""
    return max(parallelism, senders)


def disk_gb(costs: Costs, s: Scenario, window_rows_per_min: float) -> dict[str, float]:
    events = s.rate * DAY_S
    per_event = {k: f.value for k, f in costs.bytes_per_event.items()}
    window_bytes_per_day = window_rows_per_min * 1440 * costs.bytes_per_window_row.value
    return {
        "kafka": events * s.kafka_retention_days * per_event["kafka"] * s.replication / GB,
        "archive": events * s.retention_days * per_event["archive"] / GB,
        "postgres_events": events * s.retention_days * per_event["postgres_events"] / GB,
        "postgres_windows": window_bytes_per_day * s.retention_days / GB,
        "etl_parquet": events * s.retention_days * per_event["etl_parquet"] / GB,
        "checkpoints": costs.checkpoints_gb.value,
    }


def _fixed_memory(costs: Costs) -> float:
    """Components whose memory does not follow the rate (Airflow, registry, PostgreSQL, Redis, monitoring)."""
    scaled = ("flink-taskmanager", "kafka", "bench:replay")
    return sum(f.value for name, f in costs.memory_gb.items() if name not in scaled)


def memory_gb(
    costs: Costs, s: Scenario, parallelism: int, senders: int, write_bytes_s: float
) -> dict[str, float]:
    mem = {name: f.value for name, f in costs.memory_gb.items()}
    return {
        "flink_taskmanagers": parallelism * mem.get("flink-taskmanager", 0.0),
        "kafka_brokers": s.replication * mem.get("kafka", 0.0),
        "kafka_page_cache": write_bytes_s * s.page_cache_minutes * 60 / GB,
        # make fullrun's replay: one parent and 3 senders.
        "producers": math.ceil(senders / 3) * mem.get("bench:replay", 0.0),
        "fixed": _fixed_memory(costs),
    }


def needs(costs: Costs, s: Scenario) -> Needs:
    if s.rate <= 0 or s.retention_days <= 0 or s.kafka_retention_days <= 0:
        raise CapacityError("rate and retention days must be positive")
    if not 0 < s.utilization <= 1:
        raise CapacityError(f"utilization must be in (0, 1], got {s.utilization}")
    if s.replication < 1 or s.page_cache_minutes < 0:
        raise CapacityError("replication must be >= 1 and page cache minutes >= 0")
    parallelism = flink_parallelism(s.rate, costs, s.utilization)
    senders = producer_processes(s.rate, costs, s.utilization)
    write_bytes_s = s.rate * costs.bytes_per_event["kafka"].value * s.replication
    window_rows = window_rows_per_minute(s.cardinalities)
    cores = {
        "producer": cores_for(s.rate, costs.producer_core_us.value, s.utilization),
        "kafka": cores_for(s.rate, costs.broker_core_us.value * s.replication, s.utilization),
        "flink": parallelism * costs.cores_measured,
        # Load each day within a day: extract, validation, PostgreSQL's COPY and dbt.
        "etl_and_postgres": cores_for(s.rate, costs.etl_core_us_per_row.value, s.utilization),
    }
    return Needs(
        rate=s.rate,
        retention_days=s.retention_days,
        kafka_partitions=kafka_partitions(parallelism, senders),
        flink_parallelism=parallelism,
        producer_processes=senders,
        cores=cores,
        memory_gb=memory_gb(costs, s, parallelism, senders, write_bytes_s),
        disk_gb=disk_gb(costs, s, window_rows),
        kafka_write_mb_s=write_bytes_s / 1e6,
        window_rows_per_min=window_rows,
        pg_window_rows_per_s=window_rows / 60,
        pg_event_rows_per_s=s.rate,
        pg_event_rows_over_copy_ceiling=s.rate / costs.copy_rows_per_s.value,
        etl_hours_per_day_one_pipeline=(
            s.rate * DAY_S * costs.etl_wall_us_per_row.value / 1e6 + costs.etl_overhead_s_per_day.value
        )
        / 3600,
    )


# ---------------------------------------------------------------- this machine


def _window_check(
    what: str, source: str, window_rows: int, hours: float, events: int, predicted: float
) -> Check:
    per_min = events / (hours * 60)
    saturated = per_min >= 5000
    note = f"{per_min:,.0f} events a minute" + (
        "" if saturated else ": below saturation, fewer values a minute"
    )
    return Check(what, "window_rows", predicted, window_rows / (hours * 60), source, note, saturated)


def window_checks(results: Mapping[str, Any], cardinalities: Mapping[str, int]) -> list[Check]:
    predicted = window_rows_per_minute(cardinalities)
    realtime = _section(results, "realtime", "make bench BENCH_ARGS=realtime")
    hours = realtime.get("hours", REALTIME_DEFAULT_HOURS)
    out = [
        _window_check("window rows/minute", "make bench realtime", realtime["window_rows"], hours,
                      realtime["events"], predicted)
    ]  # fmt: skip
    for key, run in full_runs(results).items():
        rows = run["stages"]["oracle"]["window_rows"]
        out.append(
            _window_check(
                "window rows/minute", f"make fullrun ({key})", rows, run["hours"], run["rows"], predicted
            )
        )
    return out


def stream_check(costs: Costs, key: str, run: Mapping[str, Any]) -> Check:
    """The full run's stream stage: the replay and the job share the machine's cores."""
    per_event = costs.producer_core_us.value + costs.broker_core_us.value + costs.flink_core_us.value
    predicted = costs.cores_measured * 1e6 / per_event
    rows_per_event = run["stages"]["oracle"]["window_rows"] / run["rows"]
    in_domain = rows_per_event <= MAX_WINDOW_ROWS_PER_EVENT
    note = f"{rows_per_event:.2f} window rows/event"
    if not in_domain:
        note += f" (> {MAX_WINDOW_ROWS_PER_EVENT}: window rows dominate, outside the model)"
    if run.get("faults"):
        # A chaos run measures survival: its recoveries and stalls are not the model's subject.
        note += "; faults injected, their recoveries and stalls included: not judged"
    return Check("stream events/s (replay beside the job)", "throughput", predicted, run["stream_events_per_s"],
                 f"make fullrun ({key})", note, in_domain and not run.get("faults"))  # fmt: skip


def etl_check(costs: Costs, key: str, run: Mapping[str, Any], overhead_source: str) -> Check:
    days = len(run["etl_days"])
    predicted = (
        days * costs.etl_overhead_s_per_day.value + run["rows"] * costs.etl_wall_us_per_row.value / 1e6
    )
    own = key == overhead_source
    note = "the model's per-day overhead comes from this run" if own else f"{days} days"
    if run.get("faults"):
        note += "; faults injected during the ETL: not judged"
    return Check("ETL seconds (sum of daily runs)", "seconds", predicted, run["etl_runs_sum_s"], f"make fullrun ({key})",
                 note, not own and not run.get("faults"))  # fmt: skip


def bytes_checks(costs: Costs, runs: Mapping[str, Mapping[str, Any]], source_run: str) -> list[Check]:
    """Bytes per event of the other runs against the model's (taken from the largest run)."""
    out = []
    for key, run in runs.items():
        if key == source_run:
            continue
        measured = run["estimate_inputs"]["bytes_per_event"]
        for store, name in (("kafka", "kafka"), ("postgres_events", "analytics"), ("archive", "archive")):
            # The archive writes files per hour: a small run spreads their fixed bytes over fewer events.
            note = (
                "per-hour Parquet files: fixed bytes weigh more in a small run" if store == "archive" else ""
            )
            out.append(Check(f"{store} bytes/event", "bytes", costs.bytes_per_event[store].value, measured[name],
                             f"make fullrun ({key})", note, store != "archive"))  # fmt: skip
        out.append(Check("window row bytes", "bytes", costs.bytes_per_window_row.value,
                         run["estimate_inputs"]["bytes_per_window_row"], f"make fullrun ({key})"))  # fmt: skip
    return out


def bench_checks(costs: Costs, results: Mapping[str, Any]) -> list[Check]:
    """Round trips of the bench figures the model is built from (ratio 1 unless the arithmetic is wrong)."""
    batch = results["batch"]
    etl_s = batch["rows"] * costs.etl_wall_us_per_row.value / 1e6
    ingest_rate = costs.cores_measured * 1e6 / (costs.producer_core_us.value + costs.broker_core_us.value)
    flink_rate = costs.cores_measured * 1e6 / costs.flink_core_us.value
    note = "an input of the model"
    return [
        Check("producer events/s", "throughput", ingest_rate, costs.ingest_events_per_s, "make bench ingest", note, False),
        Check("job events/s", "throughput", flink_rate, costs.flink_events_per_s, "make bench realtime", note, False),
        Check("ETL seconds, 4M-row day", "seconds", etl_s,
              sum(batch[s] for s in ("extract_s", "validate_s", "load_s", "dbt_s")), "make bench batch", note, False),
    ]  # fmt: skip


def this_machine(costs: Costs, results: Mapping[str, Any], cardinalities: Mapping[str, int]) -> list[Check]:
    runs = full_runs(results)
    overhead_source = smallest_run(runs)
    return [
        *bench_checks(costs, results),
        *(stream_check(costs, k, r) for k, r in runs.items()),
        *(etl_check(costs, k, r, overhead_source) for k, r in runs.items()),
        *window_checks(results, cardinalities),
        *bytes_checks(costs, runs, largest_run(runs)),
    ]


# ---------------------------------------------------------------- output


def _fmt(value: float) -> str:
    """Three significant digits: the inputs carry no more than that."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    digits = 3 - 1 - math.floor(math.log10(abs(value)))
    return f"{round(value, digits):,.{max(0, digits)}f}"


def needs_rows(n: Needs) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = [
        ("Kafka partitions", str(n.kafka_partitions)),
        ("Flink parallelism", str(n.flink_parallelism)),
        ("producer processes", str(n.producer_processes)),
        *((f"cores: {k}", _fmt(v)) for k, v in n.cores.items()),
        ("cores: total", _fmt(sum(n.cores.values()))),
        *((f"memory GB: {k}", _fmt(v)) for k, v in n.memory_gb.items()),
        ("memory GB: total", _fmt(sum(n.memory_gb.values()))),
        *((f"disk TB: {k}", _fmt(v / 1000)) for k, v in n.disk_gb.items()),
        ("disk TB: total", _fmt(sum(n.disk_gb.values()) / 1000)),
        ("Kafka writes MB/s (all replicas)", _fmt(n.kafka_write_mb_s)),
        ("PostgreSQL window rows/s (upserts)", _fmt(n.pg_window_rows_per_s)),
        ("PostgreSQL event rows/s (daily COPY, averaged)", _fmt(n.pg_event_rows_per_s)),
        ("  x this machine's plain COPY rate", _fmt(n.pg_event_rows_over_copy_ceiling)),
        ("ETL hours per day, one pipeline on 2 cores", _fmt(n.etl_hours_per_day_one_pipeline)),
    ]
    return rows


def _numeric(cell: str) -> bool:
    return bool(cell) and all(ch.isdigit() or ch in ",.-" for ch in cell)


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = [all(_numeric(r[i]) for r in rows) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True))
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def render_needs(all_needs: Sequence[Needs]) -> str:
    header = ["", *(f"{n.rate:,.0f} ev/s {n.retention_days:g} d" for n in all_needs)]
    columns = [needs_rows(n) for n in all_needs]
    rows = [[label, *(col[i][1] for col in columns)] for i, (label, _) in enumerate(columns[0])]
    return render_table(header, rows)


def render_inputs(costs: Costs) -> str:
    figures: list[tuple[str, Figure]] = [
        ("producer", costs.producer_core_us),
        ("broker (one replica)", costs.broker_core_us),
        ("Flink job", costs.flink_core_us),
        ("ETL (with PostgreSQL)", costs.etl_core_us_per_row),
        ("ETL overhead per daily run", costs.etl_overhead_s_per_day),
        ("PostgreSQL plain COPY", costs.copy_rows_per_s),
        *((f"{k}", f) for k, f in costs.bytes_per_event.items()),
        ("window row", costs.bytes_per_window_row),
        ("checkpoints", costs.checkpoints_gb),
    ]
    rows = [[name, _fmt(f.value), f.unit, f.source] for name, f in figures]
    return render_table(["input", "value", "unit", "measured by"], rows)


def render_checks(checks: Sequence[Check]) -> str:
    def verdict(c: Check) -> str:
        if not c.judged:
            return "not judged"
        return ("ok" if c.within_tolerance else "OFF") + f" (x{TOLERANCE[c.kind]:g})"

    rows = [
        [c.what, _fmt(c.predicted), _fmt(c.measured), f"{c.ratio:.2f}", verdict(c), c.source, c.note]
        for c in checks
    ]
    header = ["this machine (2 cores)", "predicted", "measured", "ratio", "verdict", "measured by", "note"]
    return render_table(header, rows)


def render(costs: Costs, all_needs: Sequence[Needs], checks: Sequence[Check], s: Scenario) -> str:
    assumed = {
        "utilization": f"{s.utilization:g}",
        "replication": str(s.replication),
        "page_cache_minutes": f"{s.page_cache_minutes:g}",
    }
    lines = [
        render_needs(all_needs),
        "",
        f"Cardinalities: {dict(s.cardinalities)}; Kafka retention {s.kafka_retention_days:g} days"
        if s.kafka_retention_days != s.retention_days
        else f"Cardinalities: {dict(s.cardinalities)}",
        "",
        "Assumptions (not measured here):",
        *(f"  {k}{' = ' + assumed[k] if k in assumed else ''}: {v}" for k, v in ASSUMPTIONS.items()),
        "",
        render_inputs(costs),
        "",
        render_checks(checks),
    ]
    return "\n".join(lines)


def as_json(costs: Costs, all_needs: Sequence[Needs], checks: Sequence[Check], s: Scenario) -> dict[str, Any]:
    return {
        "scenarios": [asdict(n) for n in all_needs],
        "cardinalities": dict(s.cardinalities),
        "assumptions": {**ASSUMPTIONS, "values": {
            "utilization": s.utilization, "replication": s.replication, "page_cache_minutes": s.page_cache_minutes,
        }},
        "inputs": asdict(costs),
        "tolerance": TOLERANCE,
        "this_machine": [
            {**asdict(c), "ratio": round(c.ratio, 3), "within_tolerance": c.within_tolerance} for c in checks
        ],
    }  # fmt: skip


# ---------------------------------------------------------------- CLI


def _cardinality(text: str) -> tuple[str, int]:
    name, _, value = text.partition("=")
    if name not in CARDINALITY_PROFILES["generator"] or not value.isdigit() or int(value) < 1:
        dims = ", ".join(CARDINALITY_PROFILES["generator"])
        raise argparse.ArgumentTypeError(f"expected DIMENSION=N with N >= 1 and DIMENSION one of {dims}")
    return name, int(value)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, nargs="+", default=[10_000, 100_000, 1_000_000], help="events/s")
    p.add_argument("--retention-days", type=float, nargs="+", default=[7, 90], help="every store's retention")
    p.add_argument(
        "--kafka-retention-days", type=float, help="Kafka's own retention (default: --retention-days)"
    )
    p.add_argument("--utilization", type=float, default=DEFAULT_UTILIZATION, help=ASSUMPTIONS["utilization"])
    p.add_argument("--replication", type=int, default=DEFAULT_REPLICATION, help="Kafka replication factor")
    p.add_argument("--page-cache-minutes", type=float, default=DEFAULT_PAGE_CACHE_MINUTES)
    p.add_argument(
        "--profile", choices=sorted(CARDINALITY_PROFILES), default="generator", help="cardinalities"
    )
    p.add_argument("--cardinality", type=_cardinality, action="append", default=[], metavar="DIMENSION=N")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return p.parse_args(argv)


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    cards = {**CARDINALITY_PROFILES[args.profile], **dict(args.cardinality)}
    return [
        Scenario(rate=rate, retention_days=days, kafka_retention_days=args.kafka_retention_days or days,
                 utilization=args.utilization, replication=args.replication,
                 page_cache_minutes=args.page_cache_minutes, cardinalities=cards)
        for rate in args.rate for days in args.retention_days
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = load_results(args.results)
        costs = costs_from_results(results)
        all_scenarios = scenarios(args)
        all_needs = [needs(costs, s) for s in all_scenarios]
        checks = this_machine(costs, results, CARDINALITY_PROFILES["generator"])
    except CapacityError as exc:
        print(f"capacity: {exc}", file=sys.stderr)
        return 2
    except (KeyError, TypeError) as exc:
        print(f"capacity: {args.results} lacks a figure the model needs ({exc}): re-run make bench / make fullrun",
              file=sys.stderr)  # fmt: skip
        return 2
    text = (
        json.dumps(as_json(costs, all_needs, checks, all_scenarios[0]), indent=2)
        if args.json
        else render(costs, all_needs, checks, all_scenarios[0])
    )
    try:
        print(text)
    except BrokenPipeError:  # piped into head: the reader has what it wanted
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
