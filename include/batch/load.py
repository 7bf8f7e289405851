"""Idempotent load of one day's Parquet into ``analytics.ad_events`` (a partition swap, one transaction).

For day D, inside ONE transaction:

1. take a transaction-level advisory lock on D (two loads of the same day queue, never interleave);
2. drop D's current partition if there is one (readers keep seeing it until COMMIT: MVCC);
3. create a fresh table with the parent's columns and a CHECK on D, COPY the Parquet rows into it;
4. ATTACH it as D's partition (the CHECK lets PostgreSQL skip the validation scan);
5. upsert D's row in ``analytics.ad_events_loads``.

Any failure rolls back all of it, so D is either the previous load or the new one; a rerun
replaces D and touches no other day. COPY streams CSV produced by DuckDB straight from the
Parquet file (text COPY is the fastest path into PostgreSQL; psycopg 3's ``copy.write`` passes bytes
through), and the partition is filled before it is attached and before any index exists, which is
the cheap order for a bulk load.

The connection is the dbt login working as the group role (``SET ROLE``), so the partitions belong
to ``adevents_analytics_builder`` like the parent and the dashboard role reads them by default
privileges.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from include.batch.days import partition_name
from include.batch.extract import COLUMNS

PARENT = "analytics.ad_events"
LEDGER = "analytics.ad_events_loads"
_LOCK_NAMESPACE = 0x4144_4C44  # "ADLD"
_COPY_BLOCK = 1 << 20


@dataclass
class LoadResult:
    day: str
    rows: int
    partition: str
    content_hash: str
    replaced: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def content_hash(parquet_path: str) -> tuple[int, str]:
    """``(rows, hash)``: an order-independent fingerprint of the day's event ids (for the ledger)."""
    import duckdb

    con = duckdb.connect()
    try:
        rows, digest = con.execute(
            "SELECT count(*), coalesce(sum(('0x' || md5(event_id)[1:15])::UBIGINT::HUGEINT), 0)::VARCHAR "
            "FROM read_parquet(?)",
            [parquet_path],
        ).fetchone()
    finally:
        con.close()
    return int(rows), f"md5sum60:{digest}"


def parquet_to_csv(parquet_path: str, csv_path: Path) -> None:
    """The Parquet rows as PostgreSQL-COPY CSV (no header, columns in :data:`COLUMNS` order, UTC)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        cols = ", ".join(
            "strftime(event_time, '%Y-%m-%d %H:%M:%S.%g+00') AS event_time" if c == "event_time" else c
            for c in COLUMNS
        )
        con.execute(
            f"COPY (SELECT {cols} FROM read_parquet(?)) TO '{csv_path}' (FORMAT csv, HEADER false)",
            [parquet_path],
        )
    finally:
        con.close()


def load_day(
    conn: Any,
    day: date,
    parquet_path: str,
    *,
    source: str,
    source_uri: str,
    run_id: str | None = None,
    role: str | None = "adevents_analytics_builder",
) -> LoadResult:
    """Replace day ``day`` of analytics.ad_events with the Parquet rows, in one transaction.

    :param conn: a psycopg 3 connection (autocommit off is forced; committed here on success).
    :param role: group role to work as (``SET LOCAL ROLE``); None keeps the login's own role.
    :raises psycopg.Error: anything PostgreSQL rejects; the transaction is rolled back.
    """
    from psycopg import sql

    started = time.monotonic()
    rows, digest = content_hash(parquet_path)
    part = partition_name(day)
    part_ident = sql.Identifier("analytics", part)
    with tempfile.TemporaryDirectory(prefix="adevents_load_") as tmp:
        csv_path = Path(tmp) / "rows.csv"
        parquet_to_csv(parquet_path, csv_path)
        conn.autocommit = False
        try:
            with conn.cursor() as cur:
                if role:
                    cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
                cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_NAMESPACE, day.toordinal()))
                cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"analytics.{part}",))
                replaced = bool(cur.fetchone()[0])
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(part_ident))
                cur.execute(
                    sql.SQL("CREATE TABLE {} (LIKE analytics.ad_events INCLUDING DEFAULTS)").format(
                        part_ident
                    )
                )
                cur.execute(
                    sql.SQL(
                        "ALTER TABLE {} ADD CONSTRAINT {} CHECK (event_day IS NOT NULL AND event_day = {})"
                    ).format(part_ident, sql.Identifier(f"{part}_day"), sql.Literal(day))
                )
                copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
                    part_ident, sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS)
                )
                with cur.copy(copy_sql) as copy, csv_path.open("rb") as fh:
                    while block := fh.read(_COPY_BLOCK):
                        copy.write(block)
                cur.execute(
                    sql.SQL(
                        "ALTER TABLE analytics.ad_events ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})"
                    ).format(part_ident, sql.Literal(day), sql.Literal(day + timedelta(days=1)))
                )
                cur.execute(
                    f"""
                    INSERT INTO {LEDGER} (event_day, row_count, clicks, source, source_uri, parquet_path,
                                          content_hash, run_id, loaded_at)
                    SELECT %(day)s, count(*), coalesce(sum(click), 0), %(source)s, %(uri)s, %(parquet)s,
                           %(hash)s, %(run_id)s, now()
                    FROM {PARENT} WHERE event_day = %(day)s
                    ON CONFLICT (event_day) DO UPDATE SET
                      row_count = EXCLUDED.row_count, clicks = EXCLUDED.clicks, source = EXCLUDED.source,
                      source_uri = EXCLUDED.source_uri, parquet_path = EXCLUDED.parquet_path,
                      content_hash = EXCLUDED.content_hash, run_id = EXCLUDED.run_id,
                      loaded_at = EXCLUDED.loaded_at
                    RETURNING row_count
                    """,
                    {
                        "day": day,
                        "source": source,
                        "uri": source_uri,
                        "parquet": parquet_path,
                        "hash": digest,
                        "run_id": run_id,
                    },
                )
                loaded = int(cur.fetchone()[0])
                if loaded != rows:
                    raise RuntimeError(f"loaded {loaded} rows for {day} but the Parquet file has {rows}")
                cur.execute(sql.SQL("ANALYZE {}").format(part_ident))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    return LoadResult(
        day=day.isoformat(),
        rows=rows,
        partition=f"analytics.{part}",
        content_hash=digest,
        replaced=replaced,
        seconds=round(time.monotonic() - started, 3),
    )


def connect(dsn: str) -> Any:
    """A psycopg 3 connection for :func:`load_day` (kept here so callers need not import psycopg)."""
    import psycopg

    return psycopg.connect(dsn)
