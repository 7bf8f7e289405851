-- V001: the pipeline's schemas and its least-privilege group roles.
-- Group roles are NOLOGIN; the bootstrap DAG creates the login roles (names and passwords come
-- from Airflow connections) and makes each a member of one group. Roles are cluster-wide, hence
-- the adevents_ prefix.

CREATE SCHEMA IF NOT EXISTS realtime;   -- Flink's windowed metrics (written by the stream writer)
CREATE SCHEMA IF NOT EXISTS analytics;  -- daily loads and dbt marts
CREATE SCHEMA IF NOT EXISTS errors;     -- permanent dead letters and their retry history

DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['adevents_realtime_writer', 'adevents_analytics_builder', 'adevents_dashboard_reader']
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$$;

-- The owner must belong to a role to set that role's default privileges.
GRANT adevents_analytics_builder TO CURRENT_USER;

REVOKE ALL ON SCHEMA realtime, analytics, errors FROM PUBLIC;

-- Stream writer (Flink, producer, DLQ retry): writes realtime and errors, nothing else.
GRANT USAGE ON SCHEMA realtime, errors TO adevents_realtime_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA realtime, errors TO adevents_realtime_writer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA realtime, errors TO adevents_realtime_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA realtime, errors
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO adevents_realtime_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA realtime, errors GRANT USAGE ON SEQUENCES TO adevents_realtime_writer;

-- dbt and the daily ETL: read realtime/errors, build analytics (dbt runs with role
-- adevents_analytics_builder, so the objects it creates belong to the group, not to one login).
GRANT USAGE ON SCHEMA realtime, errors TO adevents_analytics_builder;
GRANT SELECT ON ALL TABLES IN SCHEMA realtime, errors TO adevents_analytics_builder;
ALTER DEFAULT PRIVILEGES IN SCHEMA realtime, errors GRANT SELECT ON TABLES TO adevents_analytics_builder;
GRANT USAGE, CREATE ON SCHEMA analytics TO adevents_analytics_builder;

-- Dashboards (Streamlit, Metabase): read-only on everything they show.
GRANT USAGE ON SCHEMA realtime, analytics, errors TO adevents_dashboard_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA realtime, analytics, errors TO adevents_dashboard_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA realtime, analytics, errors
  GRANT SELECT ON TABLES TO adevents_dashboard_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE adevents_analytics_builder IN SCHEMA analytics
  GRANT SELECT ON TABLES TO adevents_dashboard_reader;
