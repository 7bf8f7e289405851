"""Versioned PostgreSQL migrations: ``include/db/migrations/V<nnn>__<name>.sql``, applied in order.

- Each migration runs in its own transaction together with its row in
  ``public.schema_migrations``, so a failure leaves nothing half-applied.
- A transaction-level advisory lock serialises concurrent runs (two bootstrap runs at once).
- Applied migrations are immutable: a changed file is an error (add a new version instead). The
  one exception is :data:`REWORDED`: earlier texts whose statements are identical to today's file,
  recorded here by checksum, are accepted and re-stamped.
- Works with any DB-API connection (psycopg2 from Airflow's PostgresHook, or psycopg 3).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_FILE_RE = re.compile(r"^V(\d{3,})__([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x4144_4556  # "ADEV": any constant shared by all runners of this project

_TRACKING_DDL = """
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    version     integer PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


# version -> checksums of earlier texts of that migration that differ from today's file only in
# wording that changes no schema (comments, a COMMENT ON string that a later migration sets anyway).
REWORDED: dict[int, frozenset[str]] = {
    # References to documents outside the repository replaced by docs/design.md (V005 sets the comment).
    2: frozenset({"3cce68c399266637822c8316ce27acd204e4a1c1d53aaaa52c43213d78b8ac94"}),
    4: frozenset({"fd40a1a06535485e809a7a04f07690d08e1f464a25966b585a66c0c4a5d8184d"}),
}


class MigrationError(RuntimeError):
    """A migration cannot be applied or the applied history disagrees with the files."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"V{self.version:03d}__{self.name}"


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in ``directory``, ordered by version; rejects badly named or duplicate files."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files must be named V<nnn>__<lower_snake>.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        found[version] = Migration(version, match.group(2), path.read_text())
    return [found[v] for v in sorted(found)]


def apply(conn: Any, migrations: list[Migration] | None = None) -> list[str]:
    """Applies the pending migrations; returns the labels applied (empty when up to date)."""
    migrations = discover() if migrations is None else migrations
    conn.autocommit = False
    applied_now: list[str] = []
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        with conn.cursor() as cur:
            cur.execute(_TRACKING_DDL)
            cur.execute("SELECT version, checksum FROM public.schema_migrations")
            history = dict(cur.fetchall())
        conn.commit()
        for migration in migrations:
            if migration.version in history:
                recorded = history[migration.version]
                if recorded in REWORDED.get(migration.version, frozenset()):
                    with conn.cursor() as cur:
                        cur.execute(
                            "UPDATE public.schema_migrations SET checksum = %s WHERE version = %s",
                            (migration.checksum, migration.version),
                        )
                    conn.commit()
                elif recorded != migration.checksum:
                    raise MigrationError(
                        f"{migration.label} was edited after it was applied; "
                        "restore it and put the change in a new migration"
                    )
                continue
            try:
                with conn.cursor() as cur:
                    cur.execute(migration.sql)
                    cur.execute(
                        "INSERT INTO public.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                conn.commit()
            except Exception as exc:
                conn.rollback()
                raise MigrationError(f"{migration.label} failed and was rolled back: {exc}") from exc
            applied_now.append(migration.label)
    finally:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
        conn.commit()
    return applied_now


def current_version(conn: Any) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(version), 0) FROM public.schema_migrations")
        return int(cur.fetchone()[0])
