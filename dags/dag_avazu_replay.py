"""
### Avazu replay

Replays an Avazu file (or an hour range of it) into Kafka: every row validated against the registered
event schema and published to `ad_events_raw` with the headers naming its registered schema, or dead-lettered to
`ad_events_error` with the reason. Trigger it from the UI ("Trigger DAG w/ config") or the REST API.
Hours the streaming job has already passed are backfilled instead (docs/backfill.md): their windows
are recomputed by the same SQL in a batch job and replace the old ones, so they are never all
dead-lettered as `late_event` by a green run.

| param | meaning |
| --- | --- |
| `file` | Avazu CSV or .gz; relative paths are resolved from the repository (default: the 100-row sample); only files under setting `INGEST_FILE_ROOTS` (default `samples/`, `data/raw`, `data/demo`) |
| `from_hour`, `to_hour` | inclusive hour range, `YYMMDDHH` (UTC); empty = the file's first / last hour |
| `sort` | the file's hours are out of order: `validate` makes a copy sorted by hour (stable: rows keep their order within an hour; out of core) and the run replays it (otherwise such a file is refused, naming the first line out of order) |
| `pace` | `asap` (backfill), `speed` (event time x `speed_factor`: 60 = one Avazu hour per minute), `live` (re-based to now) |
| `speed_factor` | used by `pace=speed` |
| `topic` | raw topic override (empty = setting `TOPIC_RAW`); only `TOPIC_RAW` or a topic of setting `TOPIC_RAW_EXTRA` (default `scratch_raw_*`); the DLQ stays `TOPIC_DLQ` |
| `mode` | `auto` (default): hours ahead of the streaming job's watermark stream, hours behind it are backfilled (docs/backfill.md); `stream` or `backfill` force one path |
| `late_events_intended` | stream every hour even when it is behind the watermark, knowing its events go to the DLQ as `late_event` (otherwise such a run fails with the reason) |
| `rebuild_marts` | after a backfill, trigger `dag_daily_etl` (source archive) for each affected day whose 24 hours are archived (default on) |

| task | what it does |
| --- | --- |
| `validate` | the topic is allowed (docs/security.md), the file exists and is Avazu, the range is well-formed and within the file's hours; then decides from the streaming job's watermark which hours stream and which are backfilled (docs/backfill.md). Fails at once (no retry) with a one-line reason, e.g. when the hour holding the watermark is asked for, or hours behind it are forced to stream without `late_events_intended` |
| `ensure_partitions` | creates the daily partitions of `realtime.ad_window_metrics` for the replayed hours' days (partitions follow event time), so no window lands in the DEFAULT partition |
| `replay` | streams the hours ahead of the watermark: runs the producer (include/ingest/producer.py) in the task; returns the accounting report as XCom and fails unless rows read = published + dead-lettered with nothing failed |
| `backfill` | recomputes the hours behind the watermark (include/backfill/): publishes them to `TOPIC_BACKFILL`, runs the window SQL as a bounded batch job, swaps the range's windows in PostgreSQL (one transaction), Redis and the archive; returns its report as XCom. Idempotent: a retry or a re-run gives the same windows |
| `summary` | one line saying what streamed and what was backfilled, and how many windows were rewritten: the run's note (shown in the grid), its log and XCom; the days whose marts to rebuild |
| `rebuild_marts` | one `dag_daily_etl` run per affected day (mapped; none when nothing was backfilled) |

Retries: `validate` and an accounting failure are not retried (a retry would not help, and a replay
that already published would duplicate rows); an unreachable broker or registry before anything was
sent is retried. A failed task posts to Slack. Metrics go to the Pushgateway (`job="avazu_replay"`).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task

from include.dag_defaults import choice_param, dag_args, optional_param
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
    doc_md=__doc__,
    **dag_args(max_active_runs=2),
    tags=["ingest", "manual"],
    description="Replay Avazu hours: those ahead of the live job stream into Kafka, those behind it are backfilled",
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
        "sort": Param(
            False,
            type="boolean",
            description="The file's hours are out of order: replay a copy sorted by hour (stable, out of core; "
            "kept under data/raw/sorted/ and reused while the file is unchanged)",
        ),
        "pace": choice_param(
            "asap",
            {
                "asap": "as fast as possible",
                "speed": "event time x speed_factor",
                "live": "event times moved to now",
            },
            "How fast rows are sent",
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
        "mode": choice_param(
            "auto",
            {
                "auto": "stream hours ahead of the live job, backfill hours behind it",
                "stream": "publish to the live topic",
                "backfill": "recompute the hours' windows in a batch job",
            },
            "How the hours reach the windows (docs/backfill.md)",
        ),
        "late_events_intended": Param(
            False,
            type="boolean",
            description="Stream hours behind the live job anyway: their events go to the DLQ as late_event",
        ),
        "rebuild_marts": Param(
            True,
            type="boolean",
            description="After a backfill, run dag_daily_etl for each affected day whose 24 hours are archived",
        ),
    },
    render_template_as_native_obj=False,
)
def dag_avazu_replay() -> None:
    @task
    def validate(params: dict[str, Any] | None = None) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from include import config
        from include.backfill.plan import Plan, PlanError, choose
        from include.config import param_or_setting
        from include.ingest.input_files import resolve_input_file
        from include.ingest.ranges import check_range
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
            if params.get("sort"):
                from include.ingest.sort_input import sort_by_hour

                path = sort_by_hour(path)
                print(f"replaying the copy sorted by hour: {path}")
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
        first, last = request["first_hour"], request["last_hour"]
        mode = params.get("mode") or "auto"
        if params["pace"] == "live" or (request["topic"] != config.get("TOPIC_RAW") and mode == "auto"):
            # Live pace re-bases event times to now, and a scratch topic is not what the live job
            # reads: neither can be behind its watermark.
            plan = Plan((first, last), None, "live pace or another topic than the live job's: streamed")
        else:
            try:
                plan = choose(first, last, _job_watermark(), mode, bool(params.get("late_events_intended")))
            except PlanError as exc:
                raise AirflowFailException(f"invalid replay request: {exc}") from None
        request["plan"] = plan.to_dict()
        print(f"file hours {span.first}..{span.last}; replaying {request}")
        log.info("plan: %s", plan.reason)
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
    def replay(request: dict[str, Any], run_id: str | None = None) -> dict[str, Any] | None:
        from pathlib import Path

        from airflow.sdk.exceptions import AirflowFailException

        from include.ingest.pacing import Pace
        from include.ingest.producer import ReplayOptions, ServiceError, replay

        hours = request["plan"]["stream"]
        if not hours:
            print("nothing to stream: every hour is backfilled")
            return None
        whole = hours == [request["first_hour"], request["last_hour"]]
        options = ReplayOptions(
            file=Path(request["file"]),
            # The request's own bounds when it streams whole (empty = the file's first / last hour).
            hour_from=request["hour_from"] if whole else hours[0],
            hour_to=request["hour_to"] if whole else hours[1],
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

    @task
    def backfill(request: dict[str, Any]) -> dict[str, Any] | None:
        from pathlib import Path

        from include.backfill.run import BackfillRequest, run_backfill

        hours = request["plan"]["backfill"]
        if not hours:
            print("nothing to backfill: every hour streams")
            return None
        # A failure leaves the live windows as they were; a retry starts over (idempotent).
        report = run_backfill(
            BackfillRequest(file=Path(request["file"]), hour_from=hours[0], hour_to=hours[1])
        )
        print(report.summary())
        return report.to_dict()

    @task
    def summary(
        request: dict[str, Any],
        streamed: dict[str, Any] | None,
        backfilled: dict[str, Any] | None,
        params: dict[str, Any] | None = None,
        dag_run: Any = None,
    ) -> dict[str, Any]:
        from datetime import UTC, datetime, timedelta

        from include import archive, config
        from include.ingest.event_time import hour_start_ms

        plan = request["plan"]
        parts = [plan["reason"]]
        if streamed:
            parts.append(
                f"streamed {streamed['published']} events ({streamed['dead_lettered']} dead-lettered)"
            )
        days: list[str] = []
        if backfilled:
            parts.append(
                f"backfilled hours {backfilled['hour_from']}..{backfilled['hour_to']}: "
                f"{backfilled['windows_written']} windows rewritten (replacing {backfilled['windows_deleted']})"
            )
            first = datetime.fromtimestamp(hour_start_ms(backfilled["hour_from"]) // 1000, UTC).date()
            last = datetime.fromtimestamp(hour_start_ms(backfilled["hour_to"]) // 1000, UTC).date()
            affected = [first + timedelta(days=n) for n in range((last - first).days + 1)]
            root = archive.root_path(config.get("FLINK_ARCHIVE_URI"))
            complete = [d for d in affected if not archive.missing_hours(root, d)]
            if params and params.get("rebuild_marts"):
                days = [d.isoformat() for d in complete]
            waiting = [d.isoformat() for d in affected if d not in complete]
            if waiting:
                parts.append(
                    f"marts of {', '.join(waiting)} not rebuilt: their 24 hours are not all archived yet "
                    "(dag_daily_etl builds them once they are)"
                )
            if days:
                parts.append(f"dag_daily_etl triggered for {', '.join(days)}")
            elif complete:
                parts.append(
                    f"rebuild the marts with dag_daily_etl for {', '.join(d.isoformat() for d in complete)}"
                )
        line = "; ".join(parts)
        print(line)
        if dag_run is not None:
            from plugins.airflow_api.hooks import AirflowApiHook

            AirflowApiHook().note_outcome({"dag_run": dag_run}, line)
        return {
            "summary": line,
            "plan": plan,
            "streamed": streamed,
            "backfilled": backfilled,
            "windows_rewritten": backfilled["windows_written"] if backfilled else 0,
            "etl_confs": [{"source": "archive", "day": d} for d in days],
        }

    @task
    def etl_confs(result: dict[str, Any]) -> list[dict[str, Any]]:
        return result["etl_confs"]

    request = validate()
    streamed = replay(request)
    backfilled = backfill(request)
    ensure_partitions(request) >> [streamed, backfilled]
    result = summary(request, streamed, backfilled)
    TriggerDagRunOperator.partial(
        task_id="rebuild_marts", trigger_dag_id="dag_daily_etl", wait_for_completion=False
    ).expand(conf=etl_confs(result))


dag_avazu_replay()
