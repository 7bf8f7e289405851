#!/usr/bin/env bash
# Server-level provisioning of the compose PostgreSQL, run by the one-shot service postgres-init on
# every `docker compose up` as the superuser (PGHOST/PGUSER/PGPASSWORD from docker-compose.yaml).
# Idempotent: roles and databases are created once, passwords re-synced from .env every time.
# The same roles and databases as the local stack's provisioning, plus Metabase's application
# database. Everything inside the pipeline database (schemas, tables, the least-privilege logins
# PG_STREAM_WRITER_USER / PG_DBT_USER / PG_DASHBOARD_USER, grants) is NOT here: it comes from the
# versioned migrations that Airflow's bootstrap DAG applies as the owner role.
set -euo pipefail

for var in PG_DATABASE PG_OWNER_USER PG_OWNER_PASSWORD AIRFLOW_DB_PASSWORD REGISTRY_DB_PASSWORD \
  METABASE_DB_PASSWORD PG_METRICS_EXPORTER_PASSWORD; do
  if [[ -z ${!var:-} ]]; then
    echo "postgres-init: $var is empty: set it in .env (local_stack/docker/init-env.sh)" >&2
    exit 1
  fi
done

PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d postgres \
  -v pipeline_db="$PG_DATABASE" \
  -v owner_user="$PG_OWNER_USER" -v owner_password="$PG_OWNER_PASSWORD" \
  -v airflow_password="$AIRFLOW_DB_PASSWORD" -v registry_password="$REGISTRY_DB_PASSWORD" \
  -v metabase_password="$METABASE_DB_PASSWORD" -v exporter_password="$PG_METRICS_EXPORTER_PASSWORD" \
  <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', r)
FROM unnest(ARRAY[:'owner_user', 'airflow', 'registry', 'metabase', 'metrics_exporter']) AS r
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec

-- The owner creates the least-privilege logins and group roles in the bootstrap migrations.
ALTER ROLE :"owner_user" CREATEROLE PASSWORD :'owner_password';
ALTER ROLE airflow PASSWORD :'airflow_password';
ALTER ROLE registry PASSWORD :'registry_password';
ALTER ROLE metabase PASSWORD :'metabase_password';
ALTER ROLE metrics_exporter PASSWORD :'exporter_password';
GRANT pg_monitor TO metrics_exporter;

SELECT format('CREATE DATABASE %I OWNER %I', d.name, d.owner)
FROM (VALUES (:'pipeline_db', :'owner_user'), ('airflow', 'airflow'), ('registry', 'registry'),
             ('metabase', 'metabase')) AS d(name, owner)
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d.name) \gexec

\c :"pipeline_db"
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL

echo "postgres-init: roles and databases provisioned (${PG_DATABASE}, airflow, registry, metabase)"
