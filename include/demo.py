"""`make demo`: run the pipeline end to end on the started local stack and report what landed.

Today the main job is the platform bootstrap (topics, schema, migrations, logins) run through
Airflow's REST API exactly as an operator would; later stages append themselves here.
"""

from __future__ import annotations

import sys
import time

from include import config
from include.airflow_api import AirflowApiError, AirflowClient

BOOTSTRAP_DAG = "dag_platform_bootstrap"


def _airflow(cfg: dict[str, str]) -> AirflowClient:
    return AirflowClient(cfg["AIRFLOW_URL"], cfg["AIRFLOW_ADMIN_USER"], cfg["AIRFLOW_ADMIN_PASSWORD"])


def run_bootstrap(client: AirflowClient) -> dict:
    started = time.monotonic()
    print(f"==> triggering {BOOTSTRAP_DAG} through the Airflow REST API")
    run_id, state = client.run_and_wait(BOOTSTRAP_DAG, timeout=600)
    took = time.monotonic() - started
    if state != "success":
        failed = [
            t["task_id"] for t in client.task_instances(BOOTSTRAP_DAG, run_id) if t["state"] == "failed"
        ]
        raise SystemExit(
            f"{BOOTSTRAP_DAG} run {run_id} ended {state} (failed tasks: {', '.join(failed) or 'none'}).\n"
            f"Read why in the Airflow UI: {client.base_url}/dags/{BOOTSTRAP_DAG}/runs/{run_id}"
        )
    print(f"    {run_id}: success in {took:.0f}s")
    return client.xcom(BOOTSTRAP_DAG, run_id, "report")


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
    print("\n==> where to look")
    print(f"    Airflow UI      {cfg['AIRFLOW_URL']}   (login {cfg['AIRFLOW_ADMIN_USER']} / see .env)")
    print(f"    Flink UI        {cfg['FLINK_REST_URL']}")
    print(f"    Prometheus      http://{cfg['BIND_HOST']}:{cfg['PROMETHEUS_PORT']}")
    print(f"    Alertmanager    http://{cfg['BIND_HOST']}:{cfg['ALERTMANAGER_PORT']}")
    print(f"    Schema registry {cfg['SCHEMA_REGISTRY_URL']}/subjects")
    print(f"    Slack messages  http://{cfg['BIND_HOST']}:{cfg['SLACK_SINK_PORT']}/messages")


def main() -> int:
    cfg = config.resolve()
    try:
        report = run_bootstrap(_airflow(cfg))
    except AirflowApiError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    print_report(report, cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
