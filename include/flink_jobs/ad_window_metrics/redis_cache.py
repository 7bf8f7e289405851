"""The dashboard cache: every final window row of the job, written to Redis idempotently.

Why a Python UDF, and why it is not on the hot path: no Redis sink exists for Flink 2, and the
rows this function sees are *window results*, not events: about (1 + campaigns + a few dozen
category values) rows per minute and window size, a few thousand a minute against millions of
events. It is a vectorized (pandas) UDF, so each Arrow batch of results is one Redis round trip
(one pipeline), flushed at least every ``python.fn-execution.bundle.time``.

Keys (``{p}`` = ``--redis-prefix``, ``{size}`` = 60 | 300, ``{start}`` = window start, epoch ms UTC):

``{p}:win:{size}:{start}:{dimension}`` (HASH, TTL ``--redis-ttl``)
    field = dimension value (``""`` for ``all``), value = compact JSON of the row:
    ``impressions, clicks, conversions`` (integers), ``cost, revenue, ctr, cpc, cpa, roas``
    (decimal strings with 6 decimals, null when undefined: money never goes through a float),
    ``window_end`` (epoch ms). One HGETALL gives a whole breakdown (all campaigns of a window).
``{p}:windows:{size}`` (ZSET, TTL ``--redis-ttl``, refreshed on write)
    member = score = ``{start}`` of every cached window: the dashboard reads the latest N starts
    with ZREVRANGE and then their hashes. Members older than the newest start minus the TTL are
    trimmed.

Idempotent: a window's row is final when emitted and always written to the same field with the
same value, so a replay after recovery (at-least-once delivery to this UDF) rewrites identical
data. Entries expire by TTL; PostgreSQL remains the system of record: when Redis is down the UDF
retries three times, logs a warning and lets the job go on (the rows it could not cache are counted
0 in the blackhole sink; the dashboard falls back to PostgreSQL).
"""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal
from typing import Any

from include.metrics_contract import COUNTS, MONEY, RATIO_NAMES

# This module is pickled by value into Flink's Python worker, which cannot import ``include``: the
# functions below may use the contract's constants (plain tuples, pickled with them) but must not
# call into another module of this package. The key formats are therefore defined here, and the
# dashboard and the demo import them from this module (include/metrics_contract.py says so).
_DECIMALS = (*MONEY, *RATIO_NAMES)  # written as text with 6 decimals: money never becomes a float
METRIC_COLUMNS = (*COUNTS, *_DECIMALS)
UDF_NAME = "cache_windows_in_redis"
# window_size_s comes last on purpose: the planner folds it into a constant, and PyFlink's pandas
# UDF runner takes the batch length from the first argument, which must therefore be a column.
UDF_ARGUMENTS = (
    "window_start",
    "window_end",
    "dimension",
    "dimension_value",
    *METRIC_COLUMNS,
    "window_size_s",
)


def window_key(prefix: str, size_s: int, start_ms: int, dimension: str) -> str:
    """The HASH of one window's rows of one dimension (field: dimension value)."""
    return f"{prefix}:win:{size_s}:{start_ms}:{dimension}"


def index_key(prefix: str, size_s: int) -> str:
    """The ZSET of the cached window starts of one size."""
    return f"{prefix}:windows:{size_s}"


def _money(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN from pandas
        return None
    return str(Decimal(value).quantize(Decimal("0.000001")))


def _epoch_ms(value: Any) -> int:
    """A pandas/py datetime (naive = UTC wall clock, as the job's session time zone) in epoch ms."""
    import pandas as pd

    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.value // 1_000_000)


def entries(rows: list[dict[str, Any]], prefix: str) -> list[tuple[str, str, str, str, int, int]]:
    """``(hash key, field, json, index key, start_ms, size_s)`` per window row (pure, for tests)."""
    out = []
    for row in rows:
        size_s, start_ms = int(row["window_size_s"]), _epoch_ms(row["window_start"])
        doc = {
            **{c: int(row[c]) for c in COUNTS},
            **{m: _money(row[m]) for m in _DECIMALS},
            "window_end": _epoch_ms(row["window_end"]),
        }
        out.append(
            (
                window_key(prefix, size_s, start_ms, row["dimension"]),
                row["dimension_value"],
                json.dumps(doc, separators=(",", ":")),
                index_key(prefix, size_s),
                start_ms,
                size_s,
            )
        )
    return out


def write(client: Any, rows: list[dict[str, Any]], prefix: str, ttl_ms: int) -> int:
    """Write ``rows`` in one pipeline; returns how many rows were written."""
    if not rows:
        return 0
    pipe = client.pipeline(transaction=False)
    newest: dict[str, int] = {}
    hashes: set[str] = set()
    for key, field, doc, index, start_ms, _ in entries(rows, prefix):
        pipe.hset(key, field, doc)
        hashes.add(key)
        pipe.zadd(index, {str(start_ms): start_ms})
        newest[index] = max(newest.get(index, start_ms), start_ms)
    for key in hashes:
        pipe.pexpire(key, ttl_ms)
    for index, start_ms in newest.items():
        pipe.zremrangebyscore(index, "-inf", f"({start_ms - ttl_ms}")
        pipe.pexpire(index, ttl_ms)
    pipe.execute()
    return len(rows)


def make_udf(url: str, prefix: str, ttl_ms: int) -> Any:
    """The pandas UDF: window rows in, rows written out (a count per input row, for a blackhole sink)."""
    from pyflink.table import DataTypes
    from pyflink.table.udf import udf

    state: dict[str, Any] = {}

    def cache(*columns: Any) -> Any:
        import logging

        import pandas as pd
        import redis

        # Constant arguments (window_size_s) arrive as scalars: broadcast them.
        n = next(len(c) for c in columns if isinstance(c, pd.Series))
        series = [
            c.reset_index(drop=True) if isinstance(c, pd.Series) else pd.Series([c] * n) for c in columns
        ]
        names = UDF_ARGUMENTS
        rows = [dict(zip(names, values, strict=True)) for values in zip(*series, strict=True)]
        for attempt in range(3):
            try:
                client = state.get("client")
                if client is None:
                    client = state["client"] = redis.Redis.from_url(url, socket_timeout=5)
                write(client, rows, prefix, ttl_ms)
                return pd.Series([1] * n, dtype="int64")
            except redis.RedisError as exc:
                # The cache is best effort: PostgreSQL is the system of record and a Redis outage
                # must not stop the job. Logged in the TaskManager log, counted as 0 below.
                logging.getLogger(__name__).warning("redis write failed (attempt %d): %s", attempt + 1, exc)
                state.pop("client", None)
                time.sleep(0.2 * 2**attempt)
        return pd.Series([0] * n, dtype="int64")

    return udf(cache, result_type=DataTypes.BIGINT(), func_type="pandas", deterministic=False)


def with_password(url: str, password: str | None) -> str:
    """``url`` with ``password`` in it, unless it carries credentials already or there is none."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if not password or "@" in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=f":{quote(password, safe='')}@{parts.netloc}"))


def register(t_env: Any, *, url: str, prefix: str, ttl_ms: int) -> None:
    """Register the UDF as ``cache_windows_in_redis``; this module travels with it (pickled by value).

    The Redis password is added here, in the submitting client, from ADEVENTS_REDIS_PASSWORD (set by
    spec.py's JobSpec env) or the REDIS_PASSWORD setting: job arguments show in the Flink UI and in
    process lists, so the job's --redis-url names only the host.
    """
    import os

    import cloudpickle

    from include import config

    password = os.environ.get("ADEVENTS_REDIS_PASSWORD") or config.get("REDIS_PASSWORD")
    url = with_password(url, password)

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    t_env.get_config().set("python.fn-execution.bundle.time", "500")
    t_env.create_temporary_function(UDF_NAME, make_udf(url, prefix, ttl_ms))
