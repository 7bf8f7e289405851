"""The migration runner against a real, throwaway PostgreSQL database."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest

from include import config
from include.db import migrate

pytestmark = pytest.mark.integration


@pytest.fixture
def scratch_db():
    """A fresh database owned by the pipeline owner, created over the stack's superuser socket."""
    cfg = config.resolve()
    name = f"migrate_test_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(
        host=f"{cfg['DATA_DIR']}/run/pg",
        port=cfg["PG_PORT"],
        user="postgres",
        dbname="postgres",
        autocommit=True,
    )
    admin.execute(f'CREATE DATABASE {name} OWNER "{cfg["PG_OWNER_USER"]}"')
    try:
        with psycopg.connect(config.pg_dsn("PG_OWNER", database=name)) as conn:
            yield conn
    finally:
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


def _write(dir_: Path, files: dict[str, str]) -> Path:
    for name, sql in files.items():
        (dir_ / name).write_text(sql)
    return dir_


def test_applies_in_order_once(scratch_db, tmp_path):
    d = _write(
        tmp_path, {"V002__b.sql": "INSERT INTO t VALUES (2);", "V001__a.sql": "CREATE TABLE t (x int);"}
    )
    assert migrate.apply(scratch_db, migrate.discover(d)) == ["V001__a", "V002__b"]
    assert migrate.apply(scratch_db, migrate.discover(d)) == []
    assert scratch_db.execute("SELECT x FROM t").fetchall() == [(2,)]
    assert migrate.current_version(scratch_db) == 2


def test_failed_migration_is_rolled_back_whole(scratch_db, tmp_path):
    d = _write(
        tmp_path,
        {"V001__a.sql": "CREATE TABLE t (x int);", "V002__bad.sql": "CREATE TABLE u (y int); SELEC 1;"},
    )
    with pytest.raises(migrate.MigrationError, match="V002__bad failed and was rolled back"):
        migrate.apply(scratch_db, migrate.discover(d))
    assert migrate.current_version(scratch_db) == 1
    assert scratch_db.execute("SELECT to_regclass('public.u')").fetchone() == (None,)


def test_edited_applied_migration_is_refused(scratch_db, tmp_path):
    d = _write(tmp_path, {"V001__a.sql": "CREATE TABLE t (x int);"})
    migrate.apply(scratch_db, migrate.discover(d))
    _write(d, {"V001__a.sql": "CREATE TABLE t (x bigint);"})
    with pytest.raises(migrate.MigrationError, match="edited after it was applied"):
        migrate.apply(scratch_db, migrate.discover(d))


def test_project_migrations_apply_on_an_empty_database(scratch_db):
    applied = migrate.apply(scratch_db)
    assert applied == [m.label for m in migrate.discover()]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param({"V1__a.sql": ""}, "must be named", id="short-version"),
        pytest.param({"V001__A.sql": ""}, "must be named", id="upper-case"),
        pytest.param({"V001__a.sql": "", "V0001__b.sql": ""}, "used twice", id="duplicate"),
    ],
)
def test_discover_rejects_bad_names(tmp_path, files, message):
    with pytest.raises(migrate.MigrationError, match=message):
        migrate.discover(_write(tmp_path, files))


def test_reworded_migration_is_accepted_and_restamped(scratch_db, tmp_path, monkeypatch):
    """An applied text listed in REWORDED (same statements, new wording) passes and is re-stamped."""
    d = _write(tmp_path, {"V001__a.sql": "-- see the old doc\nCREATE TABLE t (x int);"})
    migrate.apply(scratch_db, migrate.discover(d))
    old = migrate.discover(d)[0].checksum
    _write(d, {"V001__a.sql": "-- see docs/design.md\nCREATE TABLE t (x int);"})
    with pytest.raises(migrate.MigrationError, match="edited after it was applied"):
        migrate.apply(scratch_db, migrate.discover(d))
    monkeypatch.setitem(migrate.REWORDED, 1, frozenset({old}))
    assert migrate.apply(scratch_db, migrate.discover(d)) == []
    recorded = scratch_db.execute("SELECT checksum FROM public.schema_migrations WHERE version = 1")
    assert recorded.fetchone()[0] == migrate.discover(d)[0].checksum
