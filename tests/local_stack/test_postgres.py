"""PostgreSQL after the bootstrap: schemas, migrations and least-privilege logins."""

from __future__ import annotations

import psycopg
import pytest

from include import config
from include.db.migrate import discover

pytestmark = pytest.mark.integration


def test_schemas_and_migrations(bootstrapped, pg_owner):
    schemas = {r[0] for r in pg_owner.execute("SELECT nspname FROM pg_namespace").fetchall()}
    assert {"realtime", "analytics", "errors"} <= schemas
    version = pg_owner.execute("SELECT max(version) FROM public.schema_migrations").fetchone()[0]
    assert version == discover()[-1].version


@pytest.mark.parametrize(
    ("login", "statement", "allowed"),
    [
        pytest.param(
            "PG_STREAM_WRITER", "CREATE TABLE analytics.t_{n} (x int)", False, id="writer-cannot-build-marts"
        ),
        pytest.param(
            "PG_STREAM_WRITER", "CREATE TABLE public.t_{n} (x int)", False, id="writer-cannot-use-public"
        ),
        pytest.param(
            "PG_DASHBOARD", "CREATE TABLE realtime.t_{n} (x int)", False, id="dashboard-is-read-only"
        ),
        pytest.param("PG_DBT", "CREATE TABLE analytics.t_{n} (x int)", True, id="dbt-builds-analytics"),
        pytest.param("PG_DBT", "CREATE TABLE realtime.t_{n} (x int)", False, id="dbt-cannot-write-realtime"),
    ],
)
def test_least_privilege(bootstrapped, pg_owner, login, statement, allowed):
    import uuid

    sql = statement.format(n=uuid.uuid4().hex[:8])
    with psycopg.connect(config.pg_dsn(login)) as conn:
        if allowed:
            conn.execute("SET ROLE adevents_analytics_builder")
            conn.execute(sql)
            conn.rollback()
        else:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)


def test_dashboard_reads_what_the_writer_writes(bootstrapped, pg_owner):
    import uuid

    table = f"realtime.t_{uuid.uuid4().hex[:8]}"
    pg_owner.execute(f"CREATE TABLE {table} (x int)")
    try:
        with psycopg.connect(config.pg_dsn("PG_STREAM_WRITER"), autocommit=True) as writer:
            writer.execute(f"INSERT INTO {table} VALUES (42)")
        with psycopg.connect(config.pg_dsn("PG_DASHBOARD")) as reader:
            assert reader.execute(f"SELECT x FROM {table}").fetchall() == [(42,)]
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute(f"DELETE FROM {table}")
    finally:
        pg_owner.execute(f"DROP TABLE {table}")
