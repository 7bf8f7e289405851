"""
### Avazu replay

Replays an Avazu file (or an hour range of it) into Kafka: every row validated against the registered
event schema and published to `ad_events_raw` with the headers naming its registered schema, or dead-lettered to
`ad_events_error` with the reason. Trigger it from the UI ("Trigger DAG w/ config") or the REST API.

| param | meaning |
| --- | --- |
| `file` | Avazu CSV or .gz; relative paths are resolved from the repository (default: the 100-row sample); only files under setting `INGEST_FILE_ROOTS` (default `samples/`, `data/raw`, `data/demo`) |
| `from_hour`, `to_hour` | inclusive hour range, `YYMMDDHH` (UTC); empty = the file's first / last hour |
| `pace` | `asap` (backfill), `speed` (event time x `speed_factor`: 60 = one Avazu hour per minute), `live` (re-based to now) |
| `speed_factor` | used by `pace=speed` |
| `topic` | raw topic override (empty = setting `TOPIC_RAW`); only `TOPIC_RAW` or a topic of setting `TOPIC_RAW_EXTRA` (default `scratch_raw_*`); the DLQ stays `TOPIC_DLQ` |

| task | what it does |
| --- | --- |
| `validate` | the topic is allowed (docs/security.md), the file exists and is Avazu, the range is well-formed and within the file's hours; fails at once (no retry) with a one-line reason. Warns in its log when the hours reach back behind the streaming job's watermark (those events would be dead-lettered as `late_event`) |
| `ensure_partitions` | creates the daily partitions of `realtime.ad_window_metrics` for the replayed hours' days (partitions follow event time), so no window lands in the DEFAULT partition |
| `replay` | runs the producer (include/ingest/producer.py) in the task; returns the accounting report as XCom and fails unless rows read = published + dead-lettered with nothing failed |

Retries: `validate` and an accounting failure are not retried (a retry would not help, and a replay
that already published would duplicate rows); an unreachable broker or registry before anything was
sent is retried. A failed task posts to Slack. Metrics go to the Pushgateway (`job="avazu_replay"`).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import Param, dag, task

from include.dag_defaults import DEFAULT_ARGS, START_DATE, optional_param
from include.kafka.topic_policy import param_pattern

HOUR_PATTERN = "^([0-9]{8})?$"
log = logging.getLogger(__name__)


def _job_watermark() -> int | None:
    """The streaming job's watermark, or None when there is none or Flink cannot be asked."""
    from include import config
    from plugins.flink.hooks import FlinkRestHook

    # The replay itself does not need Flink: without a watermark the late-hours check is skipped.
    return FlinkRestHook().running_job_watermark_ms(config.get("FLINK_JOB_NAME"))


@dag(
    dag_id="dag_avazu_replay",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=2,
    doc_md=__doc__,
    default_args=DEFAULT_ARGS,
    tags=["ingest", "manual"],
    description="Replay an Avazu file or hour range into Kafka: validated, bad rows to the DLQ, accounted",
    params={
        "file": Param(
            "samples/avazu_sample_100.csv",
            type="string",
            minLength=1,
            description="Avazu CSV or .gz to replay, relative to the repository or absolute",
        ),
        "from_hour": optional_param(
            "string",
            "First hour to replay, 8 digits YYMMDDHH in UTC (14102100 = 2014-10-21 00:00)",
            "the file's first hour",
            pattern=HOUR_PATTERN,
        ),
        "to_hour": optional_param(
            "string",
            "Last hour to replay (included), 8 digits YYMMDDHH in UTC",
            "the file's last hour",
            pattern=HOUR_PATTERN,
        ),
        "pace": Param(
            "asap",
            type="string",
            enum=["asap", "speed", "live"],
            values_display={
                "asap": "asap (as fast as possible)",
                "speed": "speed (event time x speed_factor)",
                "live": "live (event times moved to now)",
            },
            description="How fast rows are sent",
        ),
        "speed_factor": Param(
            60,
            type="number",
            exclusiveMinimum=0,
            maximum=100000,
            description="pace=speed only: times faster than real time, up to 100000 (60 = an Avazu hour a minute)",
        ),
        "topic": optional_param(
            "string",
            "Kafka topic to publish to: TOPIC_RAW or one of TOPIC_RAW_EXTRA (it must exist; dead letters "
            "always go to TOPIC_DLQ)",
            "setting:TOPIC_RAW",
            pattern=param_pattern("raw"),
        ),
    },
    render_template_as_native_obj=False,
)
def dag_avazu_replay() -> None:
    @task
    def validate(params: dict[str, Any] | None = None) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from include import config
        from include.config import param_or_setting
        from include.ingest.input_files import resolve_input_file
        from include.ingest.ranges import check_range, late_replay_warning
        from include.kafka.topic_policy import TopicNotAllowed, check

        assert params is not None
        hour_from, hour_to = params["from_hour"] or None, params["to_hour"] or None
        try:
            # The form's pattern is the first guard; a REST trigger or an old form gets this one.
            topic = check("raw", param_or_setting(params["topic"], "TOPIC_RAW"))
        except TopicNotAllowed as exc:
            raise AirflowFailException(f"invalid replay request: {exc}") from None
        try:
            path = resolve_input_file(params["file"])  # before anything is opened
            span = check_range(path, hour_from, hour_to)
        except ValueError as exc:
            raise AirflowFailException(f"invalid replay request: {exc}") from None
        pace = (
            "speed:" + format(float(params["speed_factor"]), "g")
            if params["pace"] == "speed"
            else params["pace"]
        )
        request = {
            "file": str(path),
            "hour_from": hour_from,
            "hour_to": hour_to,
            "first_hour": hour_from or span.first,
            "last_hour": hour_to or span.last,
            "pace": pace,
            "topic": topic,
        }
        print(f"file hours {span.first}..{span.last}; replaying {request}")
        if params["pace"] != "live" and request["topic"] == config.get("TOPIC_RAW"):
            warning = late_replay_warning(hour_from or span.first, hour_to or span.last, _job_watermark())
            if warning:
                log.warning(warning)
        return request

    @task
    def ensure_partitions(request: dict[str, Any]) -> int:
        """The days of the replayed hours get their window partitions before any event is sent."""
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from include.db import partitions

        if request["pace"] == "live":
            print("live pace: event times follow the clock, whose days dag_partition_maintenance keeps")
            return 0
        first, last = (
            partitions.day_of_hour(request["first_hour"]),
            partitions.day_of_hour(request["last_hour"]),
        )
        with PostgresHook(postgres_conn_id="pipeline_db").get_conn() as conn:
            created = partitions.ensure_days(conn, first, last)
        print(f"window partitions for {first}..{last}: {created} created")
        return created

    @task
    def replay(request: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
        from pathlib import Path

        from airflow.sdk.exceptions import AirflowFailException

        from include.ingest.pacing import Pace
        from include.ingest.producer import ReplayOptions, ServiceError, replay

        options = ReplayOptions(
            file=Path(request["file"]),
            hour_from=request["hour_from"],
            hour_to=request["hour_to"],
            pace=Pace.parse(request["pace"]),
            topic=request["topic"],
            replay_id=f"airflow-{run_id}".replace(":", "").replace("+", ""),
        )
        try:
            report = replay(options)
        except ServiceError:
            raise  # nothing was sent yet: a retry is safe and may succeed
        except Exception as exc:
            raise AirflowFailException(f"replay failed: {exc}") from None
        print(report.render())
        if not report.ok:
            raise AirflowFailException(
                f"accounting failed: {report.rows_read} rows read, {report.published} published, "
                f"{report.dead_lettered} dead-lettered, {report.failed} failed, {report.unaccounted} unaccounted"
            )
        return report.to_dict()

    request = validate()
    ensure_partitions(request) >> replay(request)


dag_avazu_replay()
