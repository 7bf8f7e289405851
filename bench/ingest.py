"""Ingest benchmark: our producer vs a naive per-row producer vs kcat (C), same broker, same run.

Each contender publishes into its own fresh 3-partition topic (deleted afterwards) with the same
delivery guarantees (idempotent, acks=all):

- ``ours``: :func:`include.ingest.producer.replay` on a generated Avazu file (parse, economics,
  validation against the registered schema, JSON, schema-id header, accounting).
- ``naive``: what a first producer looks like: per row ``to_event``, ``jsonschema`` validation,
  ``json.dumps``, ``produce`` + ``poll(0)``, librdkafka's default batching (on a subset of rows: it is
  slow, and events/s is what is compared).
- ``kcat``: the C client publishing the *same* pre-serialized ``key<TAB>value`` lines our encoder
  produced, with our producer settings and the same headers: the ceiling for this broker and box.

CPU seconds (user+sys) of each contender and of the broker are recorded, because on a 2-core box
the broker, librdkafka's threads and the encoder compete for the same cores.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from bench.cpu import CpuMeter
from include import config
from include.kafka.client_conf import client_conf

PRODUCER_FLAGS = (
    "enable.idempotence",
    "acks",
    "linger.ms",
    "batch.size",
    "batch.num.messages",
    "compression.type",
)


class _Topics:
    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka.admin import AdminClient

        self.admin = AdminClient(client_conf(bootstrap=bootstrap))
        self.created: list[str] = []

    def new(self, label: str, partitions: int = 3) -> str:
        from confluent_kafka.admin import NewTopic

        name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
        self.admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=30)
        self.created.append(name)
        return name

    def delete_all(self) -> None:
        if self.created:
            for future in self.admin.delete_topics(self.created).values():
                future.result(timeout=30)


def _measure(fn: Any) -> tuple[Any, float, float, float | None]:
    """``fn()``, its wall seconds, our CPU seconds (children included) and the local broker's
    (None when the broker is not one of the stack's programs)."""
    meter, t0 = CpuMeter(), time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t0
    spent = meter.split()
    return result, wall, spent["bench"], spent.get("kafka")


def write_kcat_lines(csv_path: Path, out: Path) -> int:
    """``event_id<TAB>json`` per valid row, produced by our own encoder (identical bytes to what we send)."""
    from include.ingest.avazu_reader import iter_lines, open_avazu
    from include.ingest.columnar import BlockEncoder, ColumnValidator
    from include.ingest.economics import load_price_model
    from include.ingest.event_time import hour_start_ms, iter_hour_batches
    from include.ingest.events import load_schema

    encoder = BlockEncoder(ColumnValidator(load_schema()), load_price_model())
    count = 0
    with open_avazu(csv_path) as stream, open(out, "wb") as sink:
        for batch in iter_hour_batches(iter_lines(stream)):
            n, start = len(batch.lines), hour_start_ms(batch.hour)
            for k in range(0, n, 4096):
                lines = batch.lines[k : k + 4096]
                records = encoder.encode(
                    lines, range(k, k + len(lines)), batch.hour, start, n, batch.first_line_no
                )
                good = [key + b"\t" + value for key, value in records if isinstance(key, bytes)]  # type: ignore[misc]
                sink.write(b"\n".join(good) + b"\n")
                count += len(good)
    return count


def naive_produce(
    csv_path: Path, topic: str, bootstrap: str, limit: int, schema: dict[str, Any], schema_id: int
) -> int:
    """The baseline: one row at a time, jsonschema validation, json.dumps, produce + poll(0)."""
    from itertools import islice

    import jsonschema
    from confluent_kafka import Producer

    from include.ingest.avazu_reader import read_avazu
    from include.ingest.economics import load_price_model
    from include.ingest.events import to_event

    model = load_price_model()
    validator = jsonschema.Draft7Validator(schema)
    producer = Producer(client_conf(bootstrap=bootstrap, extra={"enable.idempotence": True, "acks": "all"}))
    delivered = 0

    def on_delivery(err: Any, msg: Any) -> None:
        nonlocal delivered
        if err is None:
            delivered += 1

    for row in islice(read_avazu(csv_path), limit):
        event = to_event(row, model)  # the sample has no bad rows; a naive producer would crash on one
        validator.validate(event)
        value = json.dumps(event).encode()
        while True:
            try:
                producer.produce(
                    topic, value, event["event_id"].encode(), headers={"schema_id": str(schema_id).encode()},
                    on_delivery=on_delivery,
                )  # fmt: skip
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    producer.flush(120)
    return delivered


def machine_info() -> dict[str, Any]:
    import confluent_kafka

    models = [
        line.split(":", 1)[1].strip()
        for line in Path("/proc/cpuinfo").read_text().splitlines()
        if line.startswith("model name")
    ]
    cpu_model = models[0] if models else ""
    kcat = [
        x.strip()
        for x in subprocess.run(["kcat", "-V"], capture_output=True, text=True).stdout.splitlines()
        if x.startswith("Version")
    ][:1]
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "load_avg_1m_before": os.getloadavg()[0],
        "python": platform.python_version(),
        "confluent_kafka": confluent_kafka.__version__,
        "librdkafka": confluent_kafka.libversion()[0],
        "kcat": kcat[0] if kcat else None,
    }


def run(rows: int = 1_000_000, naive_rows: int = 100_000, workdir: Path | None = None) -> dict[str, Any]:
    from include.ingest.generator import generate
    from include.ingest.kafka_producer import PRODUCER_DEFAULTS
    from include.ingest.producer import ReplayOptions, replay
    from include.schema_registry import fetch_schema

    cfg = config.resolve()
    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    info = machine_info()
    work = workdir or Path(cfg["DATA_DIR"]) / "bench"
    work.mkdir(parents=True, exist_ok=True)
    csv_path, lines_path = work / f"avazu_{rows}.csv", work / f"avazu_{rows}.kcat"
    print(f"generating {rows:,} rows -> {csv_path}")
    generate(csv_path, rows, "14102100", 24, seed=20141021, progress=False)
    schema_id, schema = fetch_schema(cfg["SCHEMA_REGISTRY_URL"], cfg["SCHEMA_SUBJECT"])
    print("encoding the kcat input with our encoder")
    kcat_rows = write_kcat_lines(csv_path, lines_path)
    topics = _Topics(bootstrap)
    try:
        print("ours ...")
        ours_topic = topics.new("ours")
        report, ours_wall, ours_cpu, ours_broker = _measure(
            lambda: replay(ReplayOptions(file=csv_path, topic=ours_topic, pushgateway_url=""))
        )
        assert report.ok and report.published == rows, report.render()

        print("kcat ...")
        kcat_topic = topics.new("kcat")
        flags = [x for key in PRODUCER_FLAGS for x in ("-X", f"{key}={str(PRODUCER_DEFAULTS[key]).lower()}")]
        cmd = ["kcat", "-P", "-b", bootstrap, "-t", kcat_topic, "-K", "\t", "-l", str(lines_path),
               "-H", f"schema_id={schema_id}", "-H", "content-type=application/json", *flags]  # fmt: skip
        done, kcat_wall, kcat_cpu, kcat_broker = _measure(
            lambda: subprocess.run(cmd, capture_output=True, text=True)
        )
        assert done.returncode == 0, done.stderr[-2000:]

        print(f"naive ({naive_rows:,} rows) ...")
        naive_topic = topics.new("naive")
        naive_n = min(naive_rows, rows)
        delivered, naive_wall, naive_cpu, naive_broker = _measure(
            lambda: naive_produce(csv_path, naive_topic, bootstrap, naive_n, schema, schema_id)
        )
        assert delivered == naive_n
    finally:
        topics.delete_all()
        lines_path.unlink(missing_ok=True)

    ours_rate, kcat_rate, naive_rate = rows / ours_wall, kcat_rows / kcat_wall, naive_n / naive_wall

    def per_row(cpu: float | None, n: int) -> float | None:
        return round(cpu / n * 1e6, 2) if cpu is not None else None

    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": rows,
        "events_per_s": {"ours": round(ours_rate), "naive": round(naive_rate), "kcat": round(kcat_rate)},
        "ratios": {
            "ours_over_naive": round(ours_rate / naive_rate, 2),
            "ours_over_kcat": round(ours_rate / kcat_rate, 3),
        },
        "targets": {"events_per_s": 150_000, "ours_over_kcat": 0.5},
        "targets_met": {"events_per_s": ours_rate >= 150_000, "ours_over_kcat": ours_rate / kcat_rate >= 0.5},
        "cpu_us_per_row": {
            "ours": per_row(ours_cpu, rows),
            "naive": per_row(naive_cpu, naive_n),
            "kcat": per_row(kcat_cpu, kcat_rows),
            "broker_during_ours": per_row(ours_broker, rows),
            "broker_during_kcat": per_row(kcat_broker, kcat_rows),
        },  # fmt: skip
        "ours": {
            "workers": report.workers,
            "wall_s": round(ours_wall, 2),
            "bytes": report.bytes_published,
            "fast_path_rows": report.fast_path_rows,
        },  # fmt: skip
        "naive_rows": naive_n,
        "producer_settings": {k: PRODUCER_DEFAULTS[k] for k in PRODUCER_FLAGS},
        "machine": {**info, "load_avg_1m_after": os.getloadavg()[0]},
    }
    shutil.rmtree(work, ignore_errors=True)
    return result
