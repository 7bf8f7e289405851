"""`make demo`: run the pipeline end to end on the started local stack and report what landed.

Everything goes through Airflow's REST API, exactly as an operator would do it:

1. `dag_platform_bootstrap`: topics, schema, migrations, logins, and the streaming job deployed;
2. `dag_avazu_replay`: the shipped 100-row sample into Kafka, as the first hour the streaming job
   has not passed yet (the sample's own hour, 2014-10-21 00:00, on a fresh stack; the next hour on
   each further run, with ids of its own). An hour behind the job's watermark would only be late
   events, and the same hour twice would be two copies of the same events, so each run gets an
   hour of its own and its windows are exactly the sample's;
3. the streaming job's windows in PostgreSQL (and Redis), checked row by row against the
   independent oracle (DuckDB) before the table of 5-minute windows is printed;
4. `dag_daily_etl` for that day from the Flink archive (it waits until the day's streamed hours are
   complete there), then the day's marts checked against the streamed windows, per day, hour and
   campaign, to the micro-unit, and a short summary of them (also on the dashboard's Daily page).
"""

from __future__ import annotations

import hashlib
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from include import config
from include.airflow_api import AirflowApiError, AirflowClient
from include.flink_jobs.common.client import client_from

BOOTSTRAP_DAG = "dag_platform_bootstrap"
REPLAY_DAG = "dag_avazu_replay"
ETL_DAG = "dag_daily_etl"
SAMPLE = config.PROJECT_ROOT / "samples" / "avazu_sample_100.csv"
WINDOW_TIMEOUT_S = 240


class DemoError(Exception):
    """A step of the demo did not reach its outcome; the message says where to look."""


def _airflow(cfg: dict[str, str]) -> AirflowClient:
    return AirflowClient(cfg["AIRFLOW_URL"], cfg["AIRFLOW_ADMIN_USER"], cfg["AIRFLOW_ADMIN_PASSWORD"])


def run_dag(client: AirflowClient, dag_id: str, result_task: str, conf: dict[str, Any] | None = None) -> Any:
    """Triggers ``dag_id``, waits for it and returns ``result_task``'s XCom; DemoError if it fails."""
    started = time.monotonic()
    print(f"==> triggering {dag_id} through the Airflow REST API")
    run_id, state = client.run_and_wait(dag_id, conf=conf, timeout=600)
    took = time.monotonic() - started
    if state != "success":
        failed = [t["task_id"] for t in client.task_instances(dag_id, run_id) if t["state"] == "failed"]
        raise DemoError(
            f"{dag_id} run {run_id} ended {state} (failed tasks: {', '.join(failed) or 'none'}).\n"
            f"Read why in the Airflow UI: {client.base_url}/dags/{dag_id}/runs/{run_id}"
        )
    print(f"    {run_id}: success in {took:.0f}s")
    return client.xcom(dag_id, run_id, result_task)


def job_watermark(cfg: dict[str, str]) -> datetime | None:
    """The deployed streaming job's event-time watermark (None before its first event)."""
    flink, name = client_from(cfg), cfg["FLINK_JOB_NAME"]
    job = flink.running_job(name)
    if job is None:
        raise DemoError(f"the streaming job {name} is not running: trigger dag_flink_deploy (make status)")
    newest = flink.watermark_ms(job.job_id)
    return None if newest is None else datetime.fromtimestamp(newest / 1000, UTC)


def next_free_hour(cfg: dict[str, str], not_before: datetime) -> datetime:
    """The first hour at or after ``not_before`` that no window and no watermark has reached yet.

    Events at or behind the job's watermark are late, and an hour with windows already written
    would mix two replays, so this is the hour after both. The table matters on its own: a job
    restored from a savepoint starts with no watermark until new events arrive.
    """
    import psycopg

    with psycopg.connect(config.pg_dsn("PG_DASHBOARD"), autocommit=True) as conn:
        latest = conn.execute("SELECT max(window_end) FROM realtime.ad_window_metrics").fetchone()[0]
    reached = max((t for t in (latest, job_watermark(cfg)) if t is not None), default=None)
    if reached is None or reached < not_before:
        return not_before
    hour = reached.replace(minute=0, second=0, microsecond=0)
    return hour + timedelta(hours=1) if hour < reached else hour


def rehoured_id(event_id: str, hour_code: str) -> str:
    """A stable id of the sample row ``event_id`` replayed as hour ``hour_code``: a 64-bit hash.

    Each hour's copy of the sample is a set of events of its own (an event id names one event, and
    the daily batch keeps one row per id), so the copies need ids of their own.
    """
    digest = hashlib.sha256(f"{hour_code}:{event_id}".encode()).digest()
    return str(int.from_bytes(digest[:8], "big"))


def demo_input(cfg: dict[str, str]) -> Path:
    """The sample, re-houred to the first hour without windows yet (see the module docstring)."""
    lines = SAMPLE.read_text().splitlines()
    sample_code = lines[1].split(",")[2]
    sample_hour = datetime.strptime(sample_code, "%y%m%d%H").replace(tzinfo=UTC)
    code = next_free_hour(cfg, sample_hour).strftime("%y%m%d%H")
    fields = [line.split(",") for line in lines[1:]]
    rows = [
        ",".join([f[0] if code == sample_code else rehoured_id(f[0], code), f[1], code, *f[3:]])
        for f in fields
    ]
    path = Path(cfg["DATA_DIR"]) / "demo" / f"avazu_sample_{code}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([lines[0], *rows]) + "\n")
    return path


def wait_for_windows(expected: dict[Any, Any], timeout_s: float = WINDOW_TIMEOUT_S) -> dict[Any, Any]:
    """Polls realtime.ad_window_metrics (as the dashboard login) until it holds exactly ``expected``."""
    import psycopg

    from include.flink_jobs.ad_window_metrics.table import read_rows

    starts = sorted({key[1] for key in expected})
    deadline = time.monotonic() + timeout_s
    actual: dict[Any, Any] = {}
    with psycopg.connect(config.pg_dsn("PG_DASHBOARD"), autocommit=True) as conn:
        while time.monotonic() < deadline:
            actual = read_rows(conn, where="window_start BETWEEN %s AND %s", params=(starts[0], starts[-1]))
            if actual == expected:
                return actual
            time.sleep(2)
    missing = len(expected.keys() - actual.keys())
    differ = sum(1 for k in expected if k in actual and actual[k] != expected[k])
    raise DemoError(
        f"after {timeout_s:.0f}s realtime.ad_window_metrics has {len(actual)} of the sample's "
        f"{len(expected)} window rows ({missing} missing, {differ} different from the oracle).\n"
        "Is the streaming job running? make status, then the Flink UI; docs/troubleshooting.md"
    )


def cached_windows(cfg: dict[str, str], size_s: int, starts: list[int]) -> int:
    """How many of the windows starting at ``starts`` (epoch ms) the Redis cache holds."""
    import redis

    from include.flink_jobs.ad_window_metrics.redis_cache import index_key

    client = redis.Redis(
        host=cfg["REDIS_HOST"], port=int(cfg["REDIS_PORT"]), password=cfg["REDIS_PASSWORD"] or None
    )
    index = index_key(cfg["REDIS_WINDOW_PREFIX"], size_s)
    return sum(client.zscore(index, str(start)) is not None for start in starts)


def print_windows(rows: dict[Any, Any], cfg: dict[str, str]) -> None:
    five = sorted(
        (r for r in rows.values() if r.window_size_s == 300 and r.dimension == "all"),
        key=lambda r: r.window_start,
    )
    starts = [int(r.window_start.timestamp() * 1000) for r in five]
    print(
        f"\n==> realtime.ad_window_metrics: {len(rows)} rows for the sample, equal to the oracle "
        f"(DuckDB) to the micro-unit; {cached_windows(cfg, 300, starts)} of {len(five)} 5-minute "
        "windows also in Redis"
    )
    print(
        f"    {'window (UTC)':<17} {'impr':>5} {'clicks':>6} {'CTR':>7} {'cost':>9} {'CPC':>8} {'revenue':>9} {'ROAS':>7}"
    )
    for r in five:

        def fmt(value: Any, spec: str) -> str:
            return "-" if value is None else format(value, spec)

        print(
            f"    {r.window_start:%Y-%m-%d %H:%M} {r.impressions:>5} {r.clicks:>6} {fmt(r.ctr, '>7.2%')} "
            f"{fmt(r.cost, '>9.4f')} {fmt(r.cpc, '>8.4f')} {fmt(r.revenue, '>9.2f')} {fmt(r.roas, '>7.2f')}"
        )


def print_report(report: dict, cfg: dict[str, str]) -> None:
    print("\n==> what exists now")
    for topic, outcome in report["topics"].items():
        print(f"    kafka topic     {topic:<28} {outcome}")
    schema = report["schema"]
    print(
        f"    schema subject  {schema['subject']:<28} id {schema['schema_id']} v{schema['version']}, "
        f"{schema['schema']}, compatibility BACKWARD {schema['compatibility']}"
    )
    migrations = report["migrations"]
    print(
        f"    postgres        {'migrations':<28} at V{migrations['version']:03d}, applied now: {migrations['applied'] or 'none'}"
    )
    for user, outcome in report["logins"].items():
        print(f"    postgres login  {user:<28} {outcome}")
    print(f"    changes made by this run: {report['changes']}")


def print_urls(cfg: dict[str, str]) -> None:
    print("\n==> where to look")
    # The generated password is shown here, once, so a first-time user can log in without opening .env.
    print(
        f"    Airflow UI      {cfg['AIRFLOW_URL']}   (user {cfg['AIRFLOW_ADMIN_USER']}, "
        f"password {cfg['AIRFLOW_ADMIN_PASSWORD']}: AIRFLOW_ADMIN_PASSWORD in .env)"
    )
    print(f"    Dashboards      {cfg['STREAMLIT_URL']}   (Live, Daily, Pipeline)")
    print(f"    Flink UI        {cfg['FLINK_REST_URL']}")
    print(f"    Prometheus      http://{cfg['BIND_HOST']}:{cfg['PROMETHEUS_PORT']}")
    print(f"    Alertmanager    http://{cfg['BIND_HOST']}:{cfg['ALERTMANAGER_PORT']}")
    print(f"    Schema registry {cfg['SCHEMA_REGISTRY_URL']}/subjects")
    print(f"    Slack messages  http://{cfg['BIND_HOST']}:{cfg['SLACK_SINK_PORT']}/messages")


def print_replay(report: dict[str, Any]) -> None:
    print(
        f"    {report['rows_read']} rows read, {report['published']} published to {report['topic']}, "
        f"{report['dead_lettered']} dead-lettered, {report['failed']} failed"
    )


def archived_hours(cfg: dict[str, str], day: date) -> list[int]:
    """Hours of ``day`` the streaming job has archived events for (complete or not yet)."""
    from include import archive

    root = archive.day_dir(archive.root_path(cfg["FLINK_ARCHIVE_URI"]), day)
    return sorted(int(p.name.partition("=")[2]) for p in root.glob("hour_of_day=*") if p.is_dir())


def run_daily_etl(client: AirflowClient, cfg: dict[str, str], hour: datetime) -> dict[str, Any]:
    """The day of ``hour`` through dag_daily_etl from the archive; returns the extract's result."""
    day = hour.date()
    hours = sorted({*archived_hours(cfg, day), hour.hour})
    print(
        f"\n    day {day} from the Flink archive, once hours {', '.join(f'{h:02d}' for h in hours)} are complete"
    )
    conf = {"source": "archive", "day": day.isoformat(), "hours": ",".join(map(str, hours))}
    extracted = run_dag(client, ETL_DAG, "extract", conf=conf)
    print(
        f"    {extracted['rows']} events extracted ({extracted['duplicates_dropped']} duplicate copies "
        f"dropped), validated, loaded into analytics.ad_events; dbt marts built"
    )
    return extracted


def check_and_print_marts(day: date) -> None:
    """The day's marts equal the streamed windows (DemoError if not); prints their summary."""
    import psycopg

    from include.batch.marts import day_metrics
    from include.batch.stream_reconcile import reconcile_day

    with psycopg.connect(config.pg_dsn("PG_DASHBOARD"), autocommit=True) as conn:
        result = reconcile_day(conn, day)
        if not result.equal:
            raise DemoError(
                f"the marts of {day} differ from the streamed windows:\n    "
                + "\n    ".join(result.differences[:10])
                + "\nWere events of that day late (dead-lettered, archived for the batch)? docs/batch.md"
            )
        metrics = day_metrics(conn, day)
        top = conn.execute(
            "SELECT campaign_id, impressions, clicks, cost FROM analytics.campaign_performance "
            "WHERE event_day = %s ORDER BY impressions DESC, campaign_id LIMIT 3",
            (day,),
        ).fetchall()
    assert metrics is not None  # reconcile_day found the day's row
    print(
        f"\n==> analytics marts for {day}: equal to the streamed windows to the micro-unit "
        f"({result.rows_compared} day, hour and campaign rows)"
    )
    print(
        f"    {'day (UTC)':<17} {'impr':>5} {'clicks':>6} {'CTR':>7} {'cost':>9} {'revenue':>9} {'ROAS':>7}"
    )
    roas = "-" if metrics["roas"] is None else format(metrics["roas"], ">7.2f")
    print(
        f"    {day.isoformat():<17} {metrics['impressions']:>5} {metrics['clicks']:>6} "
        f"{metrics['ctr']:>7.2%} {metrics['cost']:>9.4f} {metrics['revenue']:>9.2f} {roas}"
    )
    print("    top campaigns: " + ", ".join(f"{c} ({i} impr, {k} clicks)" for c, i, k, _ in top))


def main() -> int:
    import psycopg

    from include.db import connection_errors
    from include.flink_jobs.ad_window_metrics import oracle

    cfg = config.resolve()
    try:
        client = _airflow(cfg)
        report = run_dag(client, BOOTSTRAP_DAG, "report")
        print_report(report, cfg)
        print()
        sample = demo_input(cfg)
        print(f"    input: the shipped sample as hour {sample.stem.rsplit('_', 1)[1]} ({sample})")
        print_replay(run_dag(client, REPLAY_DAG, "replay", conf={"file": str(sample)}))
        print(f"==> waiting for the streaming job's windows (at most {WINDOW_TIMEOUT_S}s)")
        rows = wait_for_windows(oracle.compute_file(sample))
        print_windows(rows, cfg)
        hour = datetime.strptime(sample.stem.rsplit("_", 1)[1], "%y%m%d%H").replace(tzinfo=UTC)
        run_daily_etl(client, cfg, hour)
        check_and_print_marts(hour.date())
    except (AirflowApiError, DemoError) as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    except psycopg.OperationalError as exc:  # PostgreSQL away or refusing our TLS settings
        print(f"demo failed: {connection_errors.explain(exc, cfg)}", file=sys.stderr)
        return 1
    print_urls(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
