"""
### Daily ETL: one UTC day of ad events -> validated -> `analytics.ad_events` -> dbt marts

Runs at 00:00 UTC for the **previous** day D. Every step is idempotent: rerunning any day replaces
that day and nothing else (docs/batch.md has the argument and the timings).

| task | what it does |
| --- | --- |
| `resolve_day` | D = the `day` param, else the day before the run's date; checks the params; a scheduled run skips a day with no archive at all (nothing streamed) |
| `wait_for_archive` | deferred until every hour of D is complete in the Flink archive (`_SUCCESS` per hour); fails and alerts Slack after `BATCH_ARCHIVE_WAIT_S` |
| `extract` | D's events to `data/processed/parquet/dt=D/events.parquet` (from the Flink archive, one row per event id, or an Avazu file), handed to the next tasks at `BATCH_HANDOFF_URI/dt=D/events.parquet` (Airflow object storage: the same file by default, any URL all workers reach under Celery or Kubernetes); missing or unreadable input (a truncated gzip, a wrong header) fails at once, without retry |
| `validate` | great-expectations suite `ad_events_daily`; a failure stops here, **before** anything is loaded, names the failed expectation and the link to its Data Docs page in the log and in Slack, and is not retried (it is deterministic) |
| `load` | one transaction: replace D's partition of `analytics.ad_events` (COPY) + its ledger row |
| `dbt_build` | Cosmos: one `dbt build` of every model and its tests with `--vars {day: D}` (DBT_TASK_GRAPH=per_model: a task group, one task per model) |
| `check_marts` | GX suite `ad_marts_daily`: the marts add up to each other and to the loaded rows |
| `dbt_docs` | Cosmos `dbt docs generate`, published to `DOCS_DIR/dbt`; beside `check_marts`; its own error skips it (the previous docs stay) and never fails the run |
| `slack_summary` | impressions, clicks, CTR, cost, ROAS, DLQ rate for D vs D-1, to Slack; what was loaded and the headline metrics as the run's note (a failed run's note names the task and its error) |

**Params**: `source` (`archive` | `avazu`, default BATCH_DEFAULT_SOURCE), `file` (the Avazu CSV/gz,
for `avazu`; relative paths are under the repository; only files under setting INGEST_FILE_ROOTS),
`day` (`YYYY-MM-DD`; empty = the day before the run's date), `hours` (source=archive: the hours of D to wait for, `all` or e.g. `0,1,2`;
`none` builds D from what is archived now).

**Why catchup is off.** The start date is 2014-10-22 so the Avazu days (2014-10-21..30) are inside
the DAG's range, but turning catchup on would queue one run per day since 2014 (~4,400) the moment
the DAG is unpaused. Backfills are explicit instead:

- one day: trigger with params, e.g. `{"source": "avazu", "file": "data/raw/train.gz", "day": "2014-10-21"}`;
- a date range: Airflow's backfill (runs are created for logical dates D+1, so each processes D),
  CLI `airflow backfill create --dag-id dag_daily_etl --from-date 2014-10-22 --to-date 2014-10-24
  --dag-run-conf '{"source": "avazu", "file": "data/raw/train.gz"}'` or REST `POST /api/v2/backfills`
  with the same fields. `max_active_runs=1` keeps days in order (the dimensions are rebuilt from
  every loaded day).

**Docs in Airflow's UI** (menu Browse): *dbt docs* (the project's models, columns and tests, as of
the last run) and *Data quality* (every validation of both GX suites, newest first, each linked to its
great-expectations Data Docs page: which expectation failed, on which values). Both are written under
setting DOCS_DIR and served by the API server (plugins/docs_sites, docs/operations.md).

Connections: `pipeline_db_dbt` (the dbt login; it works as role `adevents_analytics_builder`),
`slack_alerts`. Every failed task alerts Slack.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import Param, dag, task

from include import config
from include.cosmos_config import dbt_docs_task, dbt_tasks
from include.dag_defaults import DEFAULT_ARGS, choice_param, dag_args, optional_param
from plugins.archive.sensors import ArchiveDayCompleteSensor
from plugins.handoff.storage import fetched, publish

DB_CONN_ID = "pipeline_db_dbt"
DAY_XCOM = "{{ ti.xcom_pull(task_ids='resolve_day')['day'] }}"


def _dsn(conn_id: str) -> str:
    """libpq URI of an Airflow connection, its TLS extras included (psycopg 3 for COPY; PostgresHook
    would give psycopg2)."""
    from airflow.sdk import BaseHook

    c = BaseHook.get_connection(conn_id)
    ssl = {k: str(v) for k, v in c.extra_dejson.items() if k in config.LIBPQ_SSL_KEYS}
    return config.pg_uri(c.login or "", c.password or "", c.host, c.port or 5432, c.schema, ssl, "postgresql")


@dag(
    dag_id="dag_daily_etl",
    schedule="0 0 * * *",
    doc_md=__doc__,
    **dag_args(start_date=datetime(2014, 10, 22, tzinfo=UTC)),
    tags=["batch"],
    description="The previous UTC day from the Flink archive: validated, loaded, dbt marts, Slack summary",
    params={
        "source": choice_param(
            config.get("BATCH_DEFAULT_SOURCE"),
            {"archive": "what the Flink job streamed", "avazu": "a file"},
            "Where the day's events come from: the Flink job's archive, or an Avazu file (see file)",
        ),
        "file": optional_param(
            "string",
            "source=avazu only: the Avazu CSV or .gz, relative to the repository or absolute",
            "none (source=archive)",
            examples=["samples/avazu_sample_100.csv", "data/raw/train.gz"],
        ),
        "day": optional_param(
            "string",
            "The UTC day to build",
            "the day before the run's date (what the nightly run builds); the run waits until that day's "
            "hours are complete in the archive",
            format="date",
        ),
        "hours": Param(
            "all",
            type="string",
            pattern=r"^(all|none|([01]?[0-9]|2[0-3])(,([01]?[0-9]|2[0-3]))*)$",
            description="source=archive: hours (UTC, 0 to 23) that must be complete in the archive before "
            "the day is built: all, none (build from what is archived now) or a list like 0,1,2",
        ),
    },
)
def dag_daily_etl() -> None:
    @task
    def resolve_day(**context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from include import archive
        from include.batch.days import SOURCES, resolve_day

        params = context["params"]
        dag_run = context["dag_run"]
        day = resolve_day(params.get("day"), context.get("logical_date"), getattr(dag_run, "run_after", None))
        source = params.get("source") or config.get("BATCH_DEFAULT_SOURCE")
        if source not in SOURCES:  # a REST trigger skips the form's enum
            raise AirflowFailException(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        if source == "avazu" and not params.get("file"):
            raise AirflowFailException("source=avazu needs the file param (an Avazu CSV or .gz)")
        file = None
        if source == "avazu":
            from include.ingest.input_files import resolve_input_file
            from include.ingest.preflight import FileCheckError

            try:  # confined to INGEST_FILE_ROOTS like the replay's, and refused before it is opened
                file = str(resolve_input_file(params["file"]))
            except FileCheckError as exc:
                raise AirflowFailException(str(exc)) from None
        scheduled = getattr(dag_run, "run_type", None) == "scheduled"
        archive_root = archive.root_path(config.get("FLINK_ARCHIVE_URI"))
        if scheduled and source == "archive" and not archive.day_dir(archive_root, day).is_dir():
            # A stack that streamed nothing that day (e.g. set up today) has no day to build; a
            # manual run for the same day waits and fails instead, since someone asked for it.
            raise AirflowSkipException(f"no events archived for {day}: nothing to build")
        wait_hours = (params.get("hours") or "all") if source == "archive" else "none"
        print(f"processing day {day} from {source} {file or ''} (archive hours: {wait_hours})")
        return {"day": day.isoformat(), "source": source, "file": file, "wait_hours": wait_hours}

    wait_for_archive = ArchiveDayCompleteSensor(
        task_id="wait_for_archive",
        day=DAY_XCOM,
        hours="{{ ti.xcom_pull(task_ids='resolve_day')['wait_hours'] }}",
        poll_interval=float(config.get("BATCH_ARCHIVE_POLL_S")),
        timeout=float(config.get("BATCH_ARCHIVE_WAIT_S")),
    )

    @task
    def extract(target: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from include.batch.days import parse_day
        from include.batch.extract import ExtractError, extract_day

        day = parse_day(target["day"])
        try:
            result = extract_day(day, target["source"], config.data_dir(), target["file"])
        except ExtractError as exc:  # missing or unreadable input: a retry would fail the same way
            raise AirflowFailException(f"cannot extract {day}: {exc}") from None
        print(f"extracted {result.rows} events ({result.clicks} clicks) via the {result.path_used} path "
              f"in {result.seconds}s -> {result.parquet_path}; rejected {result.rejected or 'none'}")  # fmt: skip
        if result.duplicates_dropped:
            print(f"dropped {result.duplicates_dropped} duplicate archived event(s): the same event id "
                  "archived more than once (a job restarted without its state, or an hour replayed again)")  # fmt: skip
        if result.incomplete_hours:
            print(f"note: hours {result.incomplete_hours} of {day} are not marked complete in the archive")
        for example in result.rejected_examples:
            print(f"  rejected: {example}")
        # validate and load may run on another worker: they read the day from the hand-off store.
        handed = publish(Path(result.parquet_path), f"dt={day.isoformat()}/events.parquet")
        print(f"validate and load read the day's events from {handed}")
        return {**result.to_dict(), "parquet_path": handed}

    @task(retries=1, retry_delay=timedelta(seconds=10))
    def validate(extracted: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from include.batch.days import parse_day
        from include.batch.validate import Limits, ValidationFailed, validate_parquet
        from include.docs_sites import docs_root

        limits = Limits(
            max_rows=int(config.get("BATCH_MAX_ROWS_PER_DAY")),
            max_cost=float(config.get("BATCH_MAX_COST")),
            max_revenue=float(config.get("BATCH_MAX_REVENUE")),
        )
        day = parse_day(extracted["day"])
        try:
            with fetched(extracted["parquet_path"]) as path:
                report = validate_parquet(path, day, limits, docs_root())
        except ValidationFailed as exc:
            for failure in exc.failures:
                print(f"FAILED expectation: {failure}")
            print(f"Data Docs page of this validation: {exc.page_url}")
            # Deterministic: retrying cannot help, and nothing has been loaded.
            raise AirflowFailException(str(exc)) from exc
        print(f"{report.suite}: {report.expectations} expectations passed on {report.rows} rows "
              f"in {report.seconds}s; Data Docs: {report.page_url}")  # fmt: skip
        return report.to_dict()

    @task
    def load(extracted: dict[str, Any], _validated: dict[str, Any], **context: Any) -> dict[str, Any]:
        from include.batch.days import parse_day
        from include.batch.load import connect, load_day

        with connect(_dsn(DB_CONN_ID)) as conn, fetched(extracted["parquet_path"]) as path:
            result = load_day(
                conn,
                parse_day(extracted["day"]),
                path,
                source=extracted["source"],
                source_uri=extracted["source_uri"],
                run_id=context["run_id"],
                role=config.get("DBT_ROLE"),
            )
        verb = "replaced" if result.replaced else "created"
        print(f"{verb} {result.partition}: {result.rows} rows in {result.seconds}s ({result.content_hash})")
        return result.to_dict()

    @task
    def check_marts(target: dict[str, Any]) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from include.batch.days import parse_day
        from include.batch.load import connect
        from include.batch.marts import check_marts as run_check
        from include.batch.validate import ValidationFailed
        from include.docs_sites import docs_root

        with connect(_dsn(DB_CONN_ID)) as conn:
            try:
                report = run_check(conn, parse_day(target["day"]), docs_root())
            except ValidationFailed as exc:
                for failure in exc.failures:
                    print(f"FAILED expectation: {failure}")
                print(f"Data Docs page of this validation: {exc.page_url}")
                raise AirflowFailException(str(exc)) from exc
        print(
            f"{report['suite']}: {report['expectations']} expectations passed; Data Docs: {report['page_url']}"
        )
        return report

    @task
    def slack_summary(
        target: dict[str, Any], _checked: dict[str, Any], extracted: dict[str, Any], **context: Any
    ) -> str:
        from include.batch.days import parse_day
        from include.batch.load import connect
        from include.batch.marts import day_metrics, dlq_rate, run_note, summary_text
        from plugins.airflow_api.hooks import AirflowApiHook
        from plugins.slack_alerts.notifiers import post_message

        day = parse_day(target["day"])
        with connect(_dsn(DB_CONN_ID)) as conn:
            today = day_metrics(conn, day)
            if today is None:
                raise RuntimeError(f"fct_daily_metrics has no row for {day}")
            previous = day_metrics(conn, day - timedelta(days=1))
            dlq = dlq_rate(conn, day, int(today["impressions"]))
        text = summary_text(day, today, previous, dlq, context["run_id"])
        print(text)
        post_message(text)
        AirflowApiHook().note_outcome(context, run_note(day, extracted, today, dlq))
        return text

    target = resolve_day()
    target >> wait_for_archive
    extracted = extract(target)
    wait_for_archive >> extracted
    loaded = load(extracted, validate(extracted))
    dbt = dbt_tasks("dbt", {"day": DAY_XCOM}, DEFAULT_ARGS)
    checked = check_marts(target)
    loaded >> dbt >> [checked, dbt_docs_task("dbt_docs", {"day": DAY_XCOM})]
    slack_summary(target, checked, extracted)


dag_daily_etl()
