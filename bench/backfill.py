"""Backfill benchmark (``make bench`` section ``backfill``): recomputing a day the stream has passed.

On a generated day (seeded; private topics, tables, job names, Redis prefix and archive):

- ``stream``: the day published to a private topic (the replay, end-of-input markers included),
  then the streaming job as deployed; ``stream.job_s`` runs from the job running to its last window
  row (the realtime benchmark's measure) and ``stream.end_to_end_s`` adds the publishing;
- ``backfill``: with that job still running beside it, the whole day backfilled
  (include/backfill/): publish to a private backfill topic, the bounded batch job, the swap into
  PostgreSQL, Redis and the archive. ``events_per_s`` is end to end; ``compute_events_per_s`` is
  the batch job alone (submission to FINISHED);
- ``ratio_to_stream`` = backfill events/s / the stream's end-to-end events/s, same input, same run;
  ``compute_ratio_to_stream_job`` = the batch job's events/s / the streaming job's;
- ``equal_to_oracle``: the table after the backfill equals the DuckDB oracle of the day.

Run: ``local_stack/bin/run.sh .venvs/airflow/bin/python -m bench.run backfill [--backfill-rows N]``
(default 4M rows: an Avazu day).
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.realtime import _Private, _timed
from include import config
from include.backfill.run import BackfillRequest, run_backfill
from include.flink_jobs.ad_window_metrics import oracle
from include.flink_jobs.ad_window_metrics.table import read_rows
from include.flink_jobs.common.client import client_from
from include.flink_jobs.common.state import local_path, state_dirs
from include.ingest.generator import generate
from include.ingest.producer import ReplayOptions, replay

START_HOUR = "14102400"


def run(rows: int = 4_000_000, hours: int = 24) -> dict[str, Any]:
    cfg = config.resolve()
    path = Path(cfg["DATA_DIR"]) / "bench" / f"backfill_{rows}_{hours}h.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        generate(path, rows, START_HOUR, hours, seed=20141024, progress=True)
    expected = oracle.compute_file(path)
    events = sum(r.impressions for r in expected.values() if r.window_size_s == 300 and r.dimension == "all")
    last_hour = max(k[1] for k in expected).strftime("%y%m%d%H")

    private = _Private(cfg)
    backfill_topic = f"{private.name}_backfill"
    try:
        started = time.monotonic()
        report = replay(
            ReplayOptions(file=path, topic=private.topic, dlq_topic=private.dlq, pushgateway_url="")
        )
        assert report.ok and report.published == events, report.render()
        publish_s = time.monotonic() - started
        job_id = private.submit()
        job_s = _timed(private, job_id, lambda: private.count() >= len(expected))
        stream_rows = read_rows(private.pg, private.table)

        started = time.monotonic()
        backfilled = run_backfill(
            BackfillRequest(
                file=path,
                hour_from=START_HOUR,
                hour_to=last_hour,
                topic=backfill_topic,
                dlq_topic=private.dlq,
                sink_table=private.table,
                archive_uri=private.archive.as_uri(),
                redis_prefix=private.name,
                job_name=f"{private.name}_backfill",
                timeout_s=3600,
            )
        )
        backfill_s = time.monotonic() - started
        actual = read_rows(private.pg, private.table)
        live_state = client_from(cfg).job_state(job_id)
    finally:
        private.admin.delete_topics([backfill_topic])
        private.close()
        for uri in state_dirs(f"{private.name}_backfill", cfg):
            shutil.rmtree(local_path(uri), ignore_errors=True)
    stream_end_to_end_s = publish_s + job_s
    compute_s = backfilled.seconds.get("compute", 0.0)
    return {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cores": 2,
        "events": events,
        "hours": hours,
        "window_rows": len(expected),
        "events_per_s": round(events / backfill_s),
        "backfill_s": round(backfill_s, 2),
        "steps_s": backfilled.seconds,
        "compute_events_per_s": round(events / compute_s) if compute_s else None,
        "windows_written": backfilled.windows_written,
        "stream": {
            "publish_s": round(publish_s, 2),
            "job_s": round(job_s, 2),
            "end_to_end_s": round(stream_end_to_end_s, 2),
            "events_per_s": round(events / stream_end_to_end_s),
            "job_events_per_s": round(events / job_s),
        },
        "ratio_to_stream": round(stream_end_to_end_s / backfill_s, 3),
        "compute_ratio_to_stream_job": round(job_s / compute_s, 3) if compute_s else None,
        "equal_to_oracle": actual == expected and stream_rows == expected,
        "live_job_state_after": live_state,
    }
