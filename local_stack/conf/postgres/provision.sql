-- Server-level provisioning of the local PostgreSQL, run by `make up` as the superuser over the
-- local socket. Idempotent: roles are created once, passwords re-synced from .env every time.
-- Everything inside the pipeline database (schemas, tables, group roles, grants) is NOT here: it
-- is in versioned migrations (include/db/migrations/) applied by Airflow's bootstrap DAG.
\set ON_ERROR_STOP on
SET client_min_messages TO warning;

SELECT format('CREATE ROLE %I LOGIN', r) FROM unnest(ARRAY[:'owner_user', 'airflow', 'registry', 'metrics_exporter']) AS r
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec

-- The owner creates the least-privilege logins and group roles in the bootstrap migrations.
ALTER ROLE :"owner_user" CREATEROLE PASSWORD :'owner_password';
ALTER ROLE airflow PASSWORD :'airflow_password';
ALTER ROLE registry PASSWORD :'registry_password';
GRANT pg_monitor TO metrics_exporter;

SELECT format('CREATE DATABASE %I OWNER %I', d.name, d.owner)
FROM (VALUES (:'pipeline_db', :'owner_user'), ('airflow', 'airflow'), ('registry', 'registry')) AS d(name, owner)
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d.name) \gexec

\c :"pipeline_db"
SET client_min_messages TO warning;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
