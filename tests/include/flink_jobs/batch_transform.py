"""Runs the job's SQL transform in a *batch* TableEnvironment (PyFlink venv), for the unit tests.

    .venvs/flink/bin/python tests/include/flink_jobs/batch_transform.py EVENTS.jsonl OUT.json [WATERMARK_MS]

Reads one record per line with the job's own format (``adevents-json``), classifies them with the job's
views (a constant watermark stands in for CURRENT_WATERMARK, which batch lacks), and writes
``{"classified": [...], "windows": [...]}`` as JSON (decimals and timestamps as text).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

from pyflink.table import EnvironmentSettings, TableEnvironment  # noqa: E402

from include import config  # noqa: E402
from include.flink_jobs.ad_window_metrics import job, sql  # noqa: E402


def main(events: str, out: str, watermark_ms: str | None = None) -> None:
    props = sql.schema_properties(json.loads((REPO / "include/schemas/ad_event.schema.json").read_text()))
    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    conf = t_env.get_config()
    conf.set("table.local-time-zone", "UTC")
    conf.set("parallelism.default", "1")
    conf.set("pipeline.jars", job.format_jar(config.resolve()).resolve().as_uri())
    watermark = (
        f"TO_TIMESTAMP_LTZ({int(watermark_ms)}, 3)" if watermark_ms else "CAST(NULL AS TIMESTAMP_LTZ(3))"
    )
    t_env.execute_sql(sql.events_file_source_ddl("events_file", props, path=events))
    t_env.execute_sql(sql.file_events_view("events", "events_file"))
    for statement in [*sql.transform_views("events", props, watermark), sql.window_metrics_view()]:
        t_env.execute_sql(statement)
    classified = [
        {"event_id": r[0], "error_type": r[1], "error_message": r[2], "payload": r[3]}
        for r in t_env.execute_sql(
            "SELECT event_id, error_type, error_message, DECODE(payload_bytes, 'UTF-8') FROM classified_events"
        ).collect()
    ]
    windows = [
        dict(zip(sql.METRICS_COLUMNS, [None if v is None else str(v) for v in r], strict=True))
        for r in t_env.execute_sql(f"SELECT {', '.join(sql.METRICS_COLUMNS)} FROM window_metrics").collect()
    ]
    Path(out).write_text(json.dumps({"classified": classified, "windows": windows}))


if __name__ == "__main__":
    main(*sys.argv[1:])
