"""
### Platform bootstrap

Brings every shared resource of the pipeline to its declared state, idempotently: a second run
changes nothing and says so.

| task | what it ensures |
| --- | --- |
| `create_kafka_topics` | `ad_events_raw` (3 partitions), `ad_events_error` (DLQ) and `ad_events_backfill` (what a backfill recomputes, 1 day kept), with retention (include/kafka/topics.py) |
| `register_event_schema` | the raw topic's record JSON Schema (events and markers) under `ad_events_raw-value` and the dead-letter JSON Schema under `ad_events_error-value`, compatibility BACKWARD |
| `apply_db_migrations` | versioned SQL in include/db/migrations (schemas realtime, analytics, errors; group roles) |
| `ensure_db_logins` | one login per component, from the `pipeline_db_*` connections, in its least-privilege group |
| `report` | what exists now, returned as XCom and logged |
| `check_submit_pool` | the Airflow pool of one slot that job submissions run in (setting `AIRFLOW_FLINK_SUBMIT_POOL`) exists: without it the deploy would wait forever, so its absence fails here with the command that creates it |
| `deploy_streaming_job` | triggers `dag_flink_deploy` and waits: the Flink job runs (idempotent) |

Connections (all from the environment, `AIRFLOW_CONN_*`): `kafka_default`, `schema_registry`,
`pipeline_db` (owner), `pipeline_db_stream_writer`, `pipeline_db_dbt`, `pipeline_db_dashboard`.

Run it from the UI (Trigger), `make demo`, or the REST API. A failed task posts to Slack.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from include.dag_defaults import dag_args

LOGIN_GROUPS = {
    "pipeline_db_stream_writer": "adevents_realtime_writer",
    "pipeline_db_dbt": "adevents_analytics_builder",
    "pipeline_db_dashboard": "adevents_dashboard_reader",
}


@dag(
    dag_id="dag_platform_bootstrap",
    schedule=None,
    doc_md=__doc__,
    **dag_args(),
    tags=["platform", "manual"],
    description="Topics, event schema, migrations and logins to their declared state; then deploys the job",
)
def dag_platform_bootstrap() -> None:
    @task
    def create_kafka_topics() -> dict[str, str]:
        from airflow.providers.apache.kafka.hooks.client import KafkaAdminClientHook

        from include.kafka.topics import ensure_topics, pipeline_topics

        admin = KafkaAdminClientHook(kafka_config_id="kafka_default").get_conn
        outcomes = ensure_topics(admin, pipeline_topics())
        for topic, outcome in outcomes.items():
            print(f"topic {topic}: {outcome}")
        return outcomes

    @task
    def register_event_schema() -> dict[str, Any]:
        from include import config
        from include.schema_registry import DEAD_LETTER_SCHEMA_PATH, EVENT_SCHEMA_PATH, ensure_subject
        from plugins.schema_registry.hooks import SchemaRegistryHook

        client = SchemaRegistryHook().client
        subject, dlq_subject = config.get("SCHEMA_SUBJECT"), config.get("DLQ_SCHEMA_SUBJECT")
        outcome = ensure_subject(client, subject, EVENT_SCHEMA_PATH.read_text())
        print(f"subject {subject}: {outcome}")
        dlq_outcome = ensure_subject(client, dlq_subject, DEAD_LETTER_SCHEMA_PATH.read_text())
        print(f"subject {dlq_subject}: {dlq_outcome}")
        return {"subject": subject, **outcome, "dead_letter": {"subject": dlq_subject, **dlq_outcome}}

    @task
    def apply_db_migrations() -> dict[str, Any]:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from include.db import migrate

        with PostgresHook(postgres_conn_id="pipeline_db").get_conn() as conn:
            applied = migrate.apply(conn)
            version = migrate.current_version(conn)
        print(f"applied {len(applied)} migration(s): {applied or 'none, already at'} V{version:03d}")
        return {"applied": applied, "version": version}

    @task
    def ensure_db_logins(_after_migrations: dict[str, Any]) -> dict[str, str]:
        from airflow.providers.postgres.hooks.postgres import PostgresHook
        from airflow.sdk import BaseHook

        from include.db.logins import Login, ensure_logins

        logins = []
        for conn_id, group in LOGIN_GROUPS.items():
            conn = BaseHook.get_connection(conn_id)
            logins.append(Login(user=conn.login, password=conn.password, group=group))
        with PostgresHook(postgres_conn_id="pipeline_db").get_conn() as conn:
            outcomes = ensure_logins(conn, logins)
        for user, outcome in outcomes.items():
            print(f"login {user}: {outcome}")
        return outcomes

    @task
    def report(
        topics: dict[str, str], schema: dict[str, Any], migrations: dict[str, Any], logins: dict[str, str]
    ) -> dict[str, Any]:
        dlq = schema["dead_letter"]
        outcomes = [
            *topics.values(),
            *(s["schema"] for s in (schema, dlq)),
            *(s["compatibility"] for s in (schema, dlq)),
            *logins.values(),
        ]
        changes = sum(not o.startswith("unchanged") for o in outcomes) + len(migrations["applied"])
        summary = {
            "topics": topics,
            "schema": schema,
            "migrations": migrations,
            "logins": logins,
            "changes": changes,
        }
        print("platform state:", summary)
        return summary

    @task
    def check_submit_pool() -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from include import config
        from plugins.airflow_api.hooks import AirflowApiHook

        name = config.get("AIRFLOW_FLINK_SUBMIT_POOL")
        pool = AirflowApiHook().get_conn().pool(name)
        if pool is None:
            raise AirflowFailException(
                f"Airflow pool {name!r} is missing, so the job's deploy would never be scheduled: create "
                f"it with `airflow pools set {name} 1 'one Flink job submission at a time'` (make up does)"
            )
        if pool["slots"] != 1:
            raise AirflowFailException(
                f"Airflow pool {name!r} has {pool['slots']} slots: two submissions could run at once and "
                f"start two copies of the job; set it to one: `airflow pools set {name} 1 '...'`"
            )
        return {"pool": name, "slots": pool["slots"]}

    migrations = apply_db_migrations()
    state = report(create_kafka_topics(), register_event_schema(), migrations, ensure_db_logins(migrations))
    deploy = TriggerDagRunOperator(
        task_id="deploy_streaming_job",
        trigger_dag_id="dag_flink_deploy",
        wait_for_completion=True,
        deferrable=True,
        poke_interval=5,
        allowed_states=["success"],
        failed_states=["failed"],
    )
    [state, check_submit_pool()] >> deploy


dag_platform_bootstrap()
