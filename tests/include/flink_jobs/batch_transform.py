"""Runs the job's SQL transform in a *batch* TableEnvironment (PyFlink venv), for the unit tests.

    .venvs/flink/bin/python tests/include/flink_jobs/batch_transform.py EVENTS.jsonl OUT.json [WATERMARK_MS]
    .venvs/flink/bin/python tests/include/flink_jobs/batch_transform.py --serve

Reads one record per line with the job's own format (``adevents-json``), classifies them with the job's
views (a constant watermark stands in for CURRENT_WATERMARK, which batch lacks), and writes
``{"classified": [...], "windows": [...]}`` as JSON (decimals and timestamps as text).

``--serve`` keeps one JVM for many transforms (PyFlink's start-up is most of a small one's time):
each line on stdin is ``{"events": ..., "out": ..., "watermark_ms": ...}``, answered on stdout by one
line, ``@answer {"ok": true}`` or ``@answer {"ok": false, "error": "<traceback>"}`` (whatever else
Flink prints on stdout has no such prefix).
"""

from __future__ import annotations

import json
import math
import sys
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402
from pyflink.table import EnvironmentSettings, TableEnvironment  # noqa: E402

from include import config  # noqa: E402
from include.flink_jobs.ad_window_metrics import job, sql  # noqa: E402

ANSWER_PREFIX = "@answer "


def _text(value: object) -> str | None:
    """A value as the tests read it: None for SQL NULL, else its text (decimals keep their scale)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return str(value.to_pydatetime())
    return str(value)


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
    # to_pandas moves the rows as Arrow batches: collect() would cross py4j once per row.
    found = t_env.sql_query(
        "SELECT event_id, error_type, error_message, DECODE(payload_bytes, 'UTF-8') AS payload "
        "FROM classified_events"
    ).to_pandas()
    classified = [{k: _text(v) for k, v in row.items()} for row in found.to_dict("records")]
    metrics = t_env.sql_query(f"SELECT {', '.join(sql.METRICS_COLUMNS)} FROM window_metrics").to_pandas()
    windows = [{k: _text(v) for k, v in row.items()} for row in metrics.to_dict("records")]
    Path(out).write_text(json.dumps({"classified": classified, "windows": windows}))


def serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        try:
            main(request["events"], request["out"], request.get("watermark_ms"))
            answer: dict[str, object] = {"ok": True}
        except Exception:  # the test shows it; the server stays up for the next one
            answer = {"ok": False, "error": traceback.format_exc()}
        print(ANSWER_PREFIX + json.dumps(answer), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        main(*sys.argv[1:])
