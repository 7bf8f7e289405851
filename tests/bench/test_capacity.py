"""The capacity model (bench/capacity.py): its prediction for this machine against the committed
measurements of make bench and make fullrun, and its arithmetic.

Pure: reads bench/results.json and generates a small Avazu-shaped file; no service.
"""

from __future__ import annotations

import csv
import gzip
import inspect
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench import capacity
from bench.capacity import CARDINALITY_PROFILES, Costs, Figure, Scenario, needs
from include.ingest import generator

# How far predicted / measured may be from 1, either way (docs/capacity.md "Checked against this
# machine"): throughput and seconds move by tens of percent between runs on this shared 2-core box,
# window rows per minute depend on which rare values a minute happens to contain, bytes are stable.
STATED_TOLERANCE = {"throughput": 1.5, "seconds": 1.5, "window_rows": 1.10, "bytes": 1.05}


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return capacity.load_results(capacity.RESULTS)


@pytest.fixture(scope="module")
def costs(results: dict[str, Any]) -> Costs:
    return capacity.costs_from_results(results)


@pytest.fixture(scope="module")
def checks(costs: Costs, results: dict[str, Any]) -> list[capacity.Check]:
    return capacity.this_machine(costs, results, CARDINALITY_PROFILES["generator"])


# ---------------------------------------------------------------- against this machine


def test_every_judged_prediction_is_within_the_stated_tolerance(checks: list[capacity.Check]) -> None:
    judged = [c for c in checks if c.judged]
    off = [
        f"{c.what} ({c.source}): predicted {c.predicted:,.1f}, measured {c.measured:,.1f}, ratio {c.ratio:.2f}"
        for c in judged
        if not 1 / STATED_TOLERANCE[c.kind] <= c.ratio <= STATED_TOLERANCE[c.kind]
    ]
    assert not off, "the model no longer predicts this machine:\n" + "\n".join(off)
    # Never vacuous: throughput, ETL time, window rows and bytes are each judged at least once.
    assert {c.kind for c in judged} == set(STATED_TOLERANCE)
    assert capacity.TOLERANCE == STATED_TOLERANCE  # the script's verdicts use the tolerances stated here


def test_stream_prediction_recomputed_from_the_results(
    results: dict[str, Any], checks: list[capacity.Check]
) -> None:
    """The replay and the job share the 2 cores: 1 / (1/producer rate + 1/job rate), each as make bench measured it."""
    expected = 1 / (1 / results["ingest"]["events_per_s"]["ours"] + 1 / results["realtime"]["events_per_s"])
    stream = [c for c in checks if c.what.startswith("stream events/s")]
    assert stream and all(c.predicted == pytest.approx(expected, rel=1e-9) for c in stream)
    for check in stream:
        key = check.source.removeprefix("make fullrun (").removesuffix(")")
        assert check.measured == results[key]["stream_events_per_s"]


def test_etl_prediction_recomputed_from_the_results(
    results: dict[str, Any], checks: list[capacity.Check]
) -> None:
    batch = results["batch"]
    per_row_s = (batch["extract_s"] + batch["validate_s"] + batch["load_s"] + batch["dbt_s"]) / batch["rows"]
    small = min(capacity.full_runs(results).values(), key=lambda r: r["rows"])
    overhead = (small["etl_runs_sum_s"] - small["rows"] * per_row_s) / len(small["etl_days"])
    for check in (c for c in checks if c.what.startswith("ETL seconds (sum")):
        run = results[check.source.removeprefix("make fullrun (").removesuffix(")")]
        expected = len(run["etl_days"]) * overhead + run["rows"] * per_row_s
        assert check.predicted == pytest.approx(expected, rel=1e-9)
        assert check.measured == run["etl_runs_sum_s"]


def test_window_rows_prediction_matches_the_realtime_bench(results: dict[str, Any]) -> None:
    realtime = results["realtime"]
    measured_per_min = realtime["window_rows"] / (realtime.get("hours", 4) * 60)
    # The generator's values: 1 "all" row + 400 + 4 + 15 + 15 + 7 per 1-minute window, a fifth of that per 5-minute one.
    assert capacity.window_rows_per_minute(CARDINALITY_PROFILES["generator"]) == pytest.approx(442 * 1.2)
    assert 442 * 1.2 / measured_per_min == pytest.approx(1, abs=0.10)


def test_realtime_hours_fallback_is_the_benchs_default() -> None:
    from bench import realtime

    assert inspect.signature(realtime.run).parameters["hours"].default == capacity.REALTIME_DEFAULT_HOURS


def test_generator_cardinalities_are_the_generators_pools(tmp_path: Path) -> None:
    """The profile is every value the generator can draw; one seed's file has all 400 campaigns and at
    most the pools' categories (a category is drawn per publisher, so a seed may miss a rare one)."""
    pools = {
        "device_type": len({device for (_c1, device), _share, _ctr in generator.C1_DEVICE_TYPE}),
        "site_category": len(generator.SITE_CATEGORIES),
        "app_category": len(generator.APP_CATEGORIES),
        "banner_pos": len(generator.BANNER_POS),
    }
    profile = CARDINALITY_PROFILES["generator"]
    assert {k: v for k, v in profile.items() if k != "campaign"} == pools
    path = tmp_path / "one_hour.csv.gz"
    generator.generate(path, 100_000, "14102100", 1, seed=7, progress=False)
    columns = {"campaign": "C17", "device_type": "device_type", "site_category": "site_category",
               "app_category": "app_category", "banner_pos": "banner_pos"}  # fmt: skip
    seen: dict[str, set[str]] = {dim: set() for dim in columns}
    with gzip.open(path, "rt", newline="") as f:
        for row in csv.DictReader(f):
            for dim, column in columns.items():
                seen[dim].add(row[column])
    assert len(seen["campaign"]) == profile["campaign"]
    assert all(len(seen[dim]) <= profile[dim] for dim in pools)


# ---------------------------------------------------------------- arithmetic


def _costs(**overrides: Any) -> Costs:
    """Round figures, so each expected value below is computed by hand."""
    f = lambda v: Figure(v, "", "test")  # noqa: E731
    base = Costs(
        cores_measured=2,
        producer_core_us=f(20.0),
        broker_core_us=f(2.0),
        flink_core_us=f(200.0),
        etl_core_us_per_row=f(50.0),
        etl_wall_us_per_row=f(25.0),
        etl_overhead_s_per_day=f(100.0),
        copy_rows_per_s=f(500_000.0),
        bytes_per_event={
            "kafka": f(150.0),
            "archive": f(40.0),
            "postgres_events": f(250.0),
            "etl_parquet": f(30.0),
        },
        bytes_per_window_row=f(200.0),
        checkpoints_gb=f(0.5),
        memory_gb={"flink-taskmanager": f(2.0), "kafka": f(1.0), "bench:replay": f(0.5), "postgres": f(0.7)},
        flink_events_per_s=10_000.0,
        ingest_events_per_s=90_909.0,
    )
    return replace(base, **overrides)


def _scenario(rate: float = 70_000, days: float = 7, **kw: Any) -> Scenario:
    return Scenario(rate=rate, retention_days=days, kafka_retention_days=kw.pop("kafka_days", days), **kw)


GROWS_WITH_EVENTS = ("kafka", "archive", "postgres_events", "etl_parquet")


def test_by_hand() -> None:
    n = needs(_costs(), _scenario(rate=70_000, days=7, utilization=0.7, replication=3))
    assert n.flink_parallelism == 10  # 70,000 / (10,000 x 0.7)
    assert n.cores["flink"] == 20  # 10 instances x the 2 cores of the measured one
    assert n.cores["producer"] == pytest.approx(2.0)  # 70,000 x 20 µs / 0.7
    assert n.producer_processes == 2
    assert n.kafka_partitions == 10
    assert n.cores["kafka"] == pytest.approx(0.6)  # 70,000 x 2 µs x 3 replicas / 0.7
    assert n.cores["etl_and_postgres"] == pytest.approx(5.0)  # 70,000 x 50 µs / 0.7
    events = 70_000 * 86_400 * 7
    assert n.disk_gb["kafka"] == pytest.approx(events * 150 * 3 / 1e9)
    assert n.disk_gb["postgres_events"] == pytest.approx(events * 250 / 1e9)
    window_rows = 442 * 1.2
    assert n.window_rows_per_min == pytest.approx(window_rows)
    assert n.disk_gb["postgres_windows"] == pytest.approx(window_rows * 1440 * 7 * 200 / 1e9)
    assert n.pg_window_rows_per_s == pytest.approx(window_rows / 60)
    assert n.memory_gb["flink_taskmanagers"] == 20  # 10 x 2 GB
    assert n.memory_gb["kafka_page_cache"] == pytest.approx(70_000 * 150 * 3 * 600 / 1e9)
    assert n.memory_gb["fixed"] == pytest.approx(0.7)
    assert n.etl_hours_per_day_one_pipeline == pytest.approx((70_000 * 86_400 * 25e-6 + 100) / 3600)
    assert n.pg_event_rows_over_copy_ceiling == pytest.approx(0.14)


@pytest.mark.parametrize("rate", [10_000, 70_000, 1_000_000])
def test_doubling_the_rate_doubles_disk_cores_and_partitions(rate: float) -> None:
    one, two = needs(_costs(), _scenario(rate)), needs(_costs(), _scenario(2 * rate))
    for store in GROWS_WITH_EVENTS:
        assert two.disk_gb[store] == pytest.approx(2 * one.disk_gb[store])
    for part in ("producer", "kafka", "etl_and_postgres"):
        assert two.cores[part] == pytest.approx(2 * one.cores[part])
    assert two.kafka_write_mb_s == pytest.approx(2 * one.kafka_write_mb_s)
    # Whole instances and partitions: ceil(2x) is 2 ceil(x) or one less.
    assert 2 * one.flink_parallelism - 1 <= two.flink_parallelism <= 2 * one.flink_parallelism
    assert 2 * one.kafka_partitions - 1 <= two.kafka_partitions <= 2 * one.kafka_partitions
    # Window rows follow the cardinalities, not the rate; the job's state is not scaled either.
    assert two.disk_gb["postgres_windows"] == one.disk_gb["postgres_windows"]
    assert two.pg_window_rows_per_s == one.pg_window_rows_per_s
    assert two.disk_gb["checkpoints"] == one.disk_gb["checkpoints"]


def test_retention_scales_disk_linearly_and_nothing_else() -> None:
    week, quarter = needs(_costs(), _scenario(days=7)), needs(_costs(), _scenario(days=90))
    for store in (*GROWS_WITH_EVENTS, "postgres_windows"):
        assert quarter.disk_gb[store] == pytest.approx(week.disk_gb[store] * 90 / 7)
    assert quarter.cores == week.cores
    assert quarter.memory_gb == week.memory_gb
    assert quarter.kafka_partitions == week.kafka_partitions


def test_kafka_retention_and_replication_move_only_kafka() -> None:
    base = needs(_costs(), _scenario(days=90, kafka_days=90, replication=3))
    short = needs(_costs(), _scenario(days=90, kafka_days=7, replication=3))
    single = needs(_costs(), _scenario(days=90, kafka_days=90, replication=1))
    assert short.disk_gb["kafka"] == pytest.approx(base.disk_gb["kafka"] * 7 / 90)
    assert single.disk_gb["kafka"] == pytest.approx(base.disk_gb["kafka"] / 3)
    assert single.cores["kafka"] == pytest.approx(base.cores["kafka"] / 3)
    for other in ("archive", "postgres_events"):
        assert short.disk_gb[other] == base.disk_gb[other] == single.disk_gb[other]


def test_lower_utilization_buys_proportionally_more_cores() -> None:
    full, headroom = needs(_costs(), _scenario(utilization=1.0)), needs(_costs(), _scenario(utilization=0.5))
    assert headroom.cores["producer"] == pytest.approx(2 * full.cores["producer"])
    assert headroom.flink_parallelism == 2 * full.flink_parallelism  # 70,000 / 10,000 = 7 exactly


def test_cardinalities_drive_window_rows() -> None:
    more = {**CARDINALITY_PROFILES["generator"], "campaign": 4_400}
    base, bigger = needs(_costs(), _scenario()), needs(_costs(), _scenario(cardinalities=more))
    assert bigger.window_rows_per_min - base.window_rows_per_min == pytest.approx(4_000 * 1.2)
    assert bigger.disk_gb["postgres_windows"] / base.disk_gb["postgres_windows"] == pytest.approx(
        (442 + 4_000) / 442
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("rate", 0), ("retention_days", -1), ("kafka_retention_days", 0), ("utilization", 1.5)],
)
def test_impossible_scenarios_are_refused(field: str, value: float) -> None:
    with pytest.raises(capacity.CapacityError):
        needs(_costs(), replace(_scenario(), **{field: value}))


# ---------------------------------------------------------------- the command


def test_json_output_has_every_scenario_and_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity.main(["--rate", "10000", "100000", "--retention-days", "7", "90", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(s["rate"], s["retention_days"]) for s in out["scenarios"]] == [
        (10_000, 7), (10_000, 90), (100_000, 7), (100_000, 90)
    ]  # fmt: skip
    assert all(c["within_tolerance"] for c in out["this_machine"] if c["judged"])
    assert out["inputs"]["flink_core_us"]["source"].startswith("make bench realtime")


def test_table_output_names_inputs_assumptions_and_checks(capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity.main(["--rate", "100000", "--retention-days", "90"]) == 0
    out = capsys.readouterr().out
    for text in ("Kafka partitions", "Flink parallelism", "disk TB: total", "Assumptions (not measured here)",
                 "measured by", "predicted", "ratio"):  # fmt: skip
        assert text in out


def test_missing_inputs_give_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity.main(["--results", str(tmp_path / "none.json")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"ingest": {}}))
    assert capacity.main(["--results", str(partial)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "make bench" in err


def test_cardinality_override(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        capacity.main(
            ["--rate", "10000", "--retention-days", "7", "--cardinality", "campaign=5000", "--json"]
        )
        == 0
    )
    scenario = json.loads(capsys.readouterr().out)["scenarios"][0]
    assert math.isclose(scenario["window_rows_per_min"], (1 + 5000 + 4 + 15 + 15 + 7) * 1.2)
