"""Where every dashboard number comes from: Redis first, PostgreSQL as fallback, the dbt marts, and
Prometheus. No Streamlit here: every function is importable and testable on its own.

Live windows: the Flink job's Redis cache, read through the key helpers of its writer
(``index_key``: ZSET of window starts, epoch ms; ``window_key``: HASH dimension value -> JSON row;
include/flink_jobs/ad_window_metrics/redis_cache.py, docs/realtime.md). When Redis is down or has
no window, the same rows come from ``realtime.ad_window_metrics`` (setting DASHBOARD_WINDOW_TABLE),
read as the least-privilege dashboard login (PG_DASHBOARD_USER). Column and ratio names, window
sizes: include/metrics_contract.py.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dashboard.metrics import Window, top_by_impressions
from include import config
from include import metrics_contract as contract
from include.flink_jobs.ad_window_metrics.redis_cache import index_key, window_key
from include.metrics_contract import ALL_DIMENSION, MEASURES, RATIO_NAMES, WINDOW_SIZES_S

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
WINDOW_COLUMNS = ", ".join(contract.WINDOW_COLUMNS)
CAMPAIGN = "campaign"  # the breakdown the Live page ranks


# ------------------------------------------------------------------------------------ connections


def settings() -> dict[str, str]:
    return config.resolve()


def pg_connect(cfg: dict[str, str] | None = None) -> Any:
    """A read-only connection as the dashboard login (autocommit, short timeouts)."""
    import psycopg

    cfg = cfg or settings()
    conn = psycopg.connect(
        config.pg_dsn("PG_DASHBOARD"),
        autocommit=True,
        connect_timeout=3,
        options="-c statement_timeout=15000 -c default_transaction_read_only=on",
    )
    return conn


def redis_client(cfg: dict[str, str] | None = None) -> Any:
    import redis

    cfg = cfg or settings()
    return redis.Redis(
        host=cfg["REDIS_HOST"],
        port=int(cfg["REDIS_PORT"]),
        password=cfg["REDIS_PASSWORD"] or None,
        socket_timeout=2,
        socket_connect_timeout=2,
    )


def window_table(cfg: dict[str, str]) -> str:
    table = cfg["DASHBOARD_WINDOW_TABLE"]
    if not _IDENT.match(table):
        raise ValueError(f"DASHBOARD_WINDOW_TABLE {table!r} is not a [schema.]table name")
    return table


# ------------------------------------------------------------------------------------ live windows


@dataclass
class LiveData:
    """The Live page's windows: the newest ones of each size, and where they came from."""

    source: str  # "redis", "postgresql" or "none"
    totals: dict[int, list[Window]] = field(default_factory=dict)  # size -> dimension all, newest first
    campaigns: dict[int, list[Window]] = field(default_factory=dict)  # size -> campaign rows of the span
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(self.totals.values())

    def latest(self, size_s: int) -> Window | None:
        rows = self.totals.get(size_s) or []
        return rows[0] if rows else None

    def previous(self, size_s: int) -> Window | None:
        rows = self.totals.get(size_s) or []
        return rows[1] if len(rows) > 1 else None

    def latest_end(self) -> datetime | None:
        ends = [w.end for rows in self.totals.values() for w in rows[:1]]
        return max(ends) if ends else None

    def top_campaigns(self, size_s: int, limit: int) -> list[dict[str, Any]]:
        return top_by_impressions(self.campaigns.get(size_s) or [], limit)


def windows_per_span(size_s: int, minutes: int) -> int:
    return max(1, minutes * 60 // size_s)


def _redis_doc_to_window(
    size_s: int, start_ms: int, dimension: str, value: str, doc: dict[str, Any]
) -> Window:
    return Window.from_mapping(
        {
            "window_size_s": size_s,
            "window_start": start_ms,
            "window_end": doc.get("window_end", start_ms + size_s * 1000),
            "dimension": dimension,
            "dimension_value": value,
            **{k: doc.get(k) for k in (*MEASURES, *RATIO_NAMES)},
        }
    )


def live_from_redis(client: Any, prefix: str, minutes: int) -> LiveData:
    """Newest windows of both sizes from the Flink job's Redis cache (empty LiveData if none)."""
    data = LiveData(source="redis")
    for size_s in WINDOW_SIZES_S:
        n = windows_per_span(size_s, minutes)
        starts = [int(s) for s in client.zrevrange(index_key(prefix, size_s), 0, n - 1)]
        pipe = client.pipeline(transaction=False)
        for start in starts:
            pipe.hget(window_key(prefix, size_s, start, ALL_DIMENSION), "")
            pipe.hgetall(window_key(prefix, size_s, start, CAMPAIGN))
        replies = pipe.execute() if starts else []
        totals, campaigns = [], []
        for i, start in enumerate(starts):
            total, by_campaign = replies[2 * i], replies[2 * i + 1]
            if total:
                totals.append(_redis_doc_to_window(size_s, start, ALL_DIMENSION, "", json.loads(total)))
            for value, doc in (by_campaign or {}).items():
                campaigns.append(
                    _redis_doc_to_window(size_s, start, CAMPAIGN, value.decode(), json.loads(doc))
                )
        data.totals[size_s] = totals
        data.campaigns[size_s] = campaigns
    return data


def live_from_postgres(conn: Any, table: str, minutes: int) -> LiveData:
    """The same windows from PostgreSQL: newest N per size, campaigns of the same span."""
    data = LiveData(source="postgresql")
    for size_s in WINDOW_SIZES_S:
        n = windows_per_span(size_s, minutes)
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT {WINDOW_COLUMNS} FROM {table} WHERE window_size_s = %s AND dimension = %s "
                "ORDER BY window_start DESC LIMIT %s",
                (size_s, ALL_DIMENSION, n),
            )
            cols = [d.name for d in cur.description]
            totals = [Window.from_mapping(dict(zip(cols, r, strict=True))) for r in cur.fetchall()]
            campaigns: list[Window] = []
            if totals:
                cur.execute(
                    f"SELECT {WINDOW_COLUMNS} FROM {table} WHERE window_size_s = %s "
                    "AND dimension = %s AND window_start BETWEEN %s AND %s",
                    (size_s, CAMPAIGN, totals[-1].start, totals[0].start),
                )
                cols = [d.name for d in cur.description]
                campaigns = [Window.from_mapping(dict(zip(cols, r, strict=True))) for r in cur.fetchall()]
        data.totals[size_s] = totals
        data.campaigns[size_s] = campaigns
    return data


def load_live(
    cfg: dict[str, str] | None = None,
    redis_factory: Callable[[dict[str, str]], Any] = redis_client,
    pg_factory: Callable[[dict[str, str]], Any] = pg_connect,
) -> LiveData:
    """Redis first; PostgreSQL when Redis is unreachable or empty; ``source="none"`` when both fail."""
    cfg = cfg or settings()
    minutes = int(cfg["DASHBOARD_TREND_MINUTES"])
    notes: list[str] = []
    try:
        data = live_from_redis(redis_factory(cfg), cfg["REDIS_WINDOW_PREFIX"], minutes)
        if not data.empty:
            return data
        notes.append("Redis has no cached window")
    except Exception as exc:  # unreachable, timeout, bad JSON: fall back, say why
        notes.append(f"Redis unavailable ({type(exc).__name__})")
    try:
        with pg_factory(cfg) as conn:
            data = live_from_postgres(conn, window_table(cfg), minutes)
        data.notes = notes
        return data
    except Exception as exc:
        notes.append(f"PostgreSQL unavailable ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})")
        return LiveData(source="none", notes=notes)


def last_update(
    cfg: dict[str, str] | None = None, pg_factory: Callable[[dict[str, str]], Any] = pg_connect
) -> datetime | None:
    """When the job last wrote one of the newest windows (``updated_at``, the database's clock).

    Redis has no write time, so this always asks PostgreSQL; only the newest windows of each size
    are looked at (index scan), which is where a running job or replay writes.
    """
    cfg = cfg or settings()
    table = window_table(cfg)
    sql = (
        f"SELECT max(updated_at) FROM (SELECT updated_at FROM {table} WHERE window_size_s = %s "
        "AND dimension = %s ORDER BY window_start DESC LIMIT 60) newest"
    )
    stamps = []
    with pg_factory(cfg) as conn, conn.cursor() as cur:
        for size_s in WINDOW_SIZES_S:
            cur.execute(sql, (size_s, ALL_DIMENSION))
            stamps.append(cur.fetchone()[0])
    found = [s if s.tzinfo else s.replace(tzinfo=UTC) for s in stamps if s is not None]
    return max(found) if found else None


# ------------------------------------------------------------------------------------ daily marts

# Sums over several days: their ratios are taken from these sums by load_daily, never averaged.
_SUMS = ", ".join(f"sum({m}) AS {m}" for m in MEASURES)
_SUMMED = ("device", "category", "banner")

MART_QUERIES: dict[str, str] = {
    "days": "SELECT event_day FROM analytics.fct_daily_metrics ORDER BY event_day",
    "daily": (
        f"SELECT event_day, {', '.join((*MEASURES, *RATIO_NAMES))} "
        "FROM analytics.fct_daily_metrics WHERE event_day BETWEEN %(day_from)s AND %(day_to)s "
        "ORDER BY event_day"
    ),
    "ctr_trend": (
        "SELECT event_day, impressions, clicks, ctr FROM analytics.mart_daily_ctr "
        "WHERE event_day BETWEEN %(day_from)s AND %(day_to)s ORDER BY event_day"
    ),
    "device": (
        f"SELECT device_type, {_SUMS} "
        "FROM analytics.mart_device_performance WHERE event_day BETWEEN %(day_from)s AND %(day_to)s "
        "GROUP BY device_type ORDER BY impressions DESC, device_type"
    ),
    "category": (
        f"SELECT traffic_type, category, {_SUMS} "
        "FROM analytics.mart_category_analysis WHERE event_day BETWEEN %(day_from)s AND %(day_to)s "
        "GROUP BY traffic_type, category ORDER BY impressions DESC, traffic_type, category LIMIT 15"
    ),
    "banner": (
        f"SELECT banner_pos, {_SUMS} "
        "FROM analytics.mart_banner_position WHERE event_day BETWEEN %(day_from)s AND %(day_to)s "
        "GROUP BY banner_pos ORDER BY banner_pos"
    ),
}


@dataclass
class DailyData:
    day_from: date | None  # the range asked for (picked, from the URL, or the default)
    day_to: date | None
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    loaded_days: list[date] = field(default_factory=list)  # every day in the marts, ascending
    day_before: dict[str, Any] | None = None  # fct_daily_metrics of the day before the newest shown

    @property
    def empty(self) -> bool:
        return not self.tables.get("daily")

    @property
    def days(self) -> list[date]:
        """The days of the range that have data (what the page's numbers are about)."""
        return [r["event_day"] for r in self.tables.get("daily") or []]


def _rows(conn: Any, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def parse_day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def load_daily(
    day_from: date | None = None,
    day_to: date | None = None,
    cfg: dict[str, str] | None = None,
    pg_factory: Callable[[dict[str, str]], Any] = pg_connect,
) -> DailyData:
    """The marts of [day_from, day_to] (default: the newest DASHBOARD_DAILY_DAYS loaded days).

    Ratios of grouped rows are recomputed from the sums by the page, never averaged (docs/design.md
    "Metric definitions").
    A missing mart (dbt has not built it yet) is an entry in ``errors``, not an exception.
    """
    cfg = cfg or settings()
    with pg_factory(cfg) as conn:
        try:
            loaded = [r["event_day"] for r in _rows(conn, MART_QUERIES["days"], {})]
        except Exception as exc:
            return DailyData(day_from, day_to, errors={"days": _short(exc)})
        if not loaded:
            return DailyData(day_from, day_to)
        day_from, day_to = default_range(loaded, day_from, day_to, int(cfg["DASHBOARD_DAILY_DAYS"]))
        data = DailyData(day_from, day_to, loaded_days=loaded)
        params = {"day_from": day_from, "day_to": day_to}
        for name, sql in MART_QUERIES.items():
            if name == "days":
                continue
            try:
                rows = _rows(conn, sql, params)
            except Exception as exc:
                data.errors[name] = _short(exc)
                continue
            if name in _SUMMED:
                for r in rows:
                    r.update(contract.ratios(r))
            data.tables[name] = rows
        if data.days:
            # The tiles compare the newest day with the day before, in the range or not.
            before = data.days[-1] - timedelta(days=1)
            rows = _rows(conn, MART_QUERIES["daily"], {"day_from": before, "day_to": before})
            data.day_before = rows[0] if rows else None
        return data


def default_range(
    loaded: list[date], day_from: date | None, day_to: date | None, days: int
) -> tuple[date, date]:
    """The range to show: what was asked, completed by the newest ``days`` days up to the newest
    loaded day (or up to ``day_to``), so a missing end never points past the data."""
    if day_to is None:
        day_to = loaded[-1] if day_from is None else max(day_from, loaded[-1])
    if day_from is None:
        day_from = day_to - timedelta(days=days - 1)
    return (day_from, day_to) if day_from <= day_to else (day_to, day_from)


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}" if str(exc) else type(exc).__name__


# ------------------------------------------------------------------------------------ Prometheus

# The Pipeline page: one PromQL per panel, on the recording rules of
# local_stack/monitoring/rules/pipeline.yml (so the page, Grafana and the alerts agree).
# kind: how values read (metrics.fmt_panel_value); levels: (warn, alert) in the shown unit, as the
# alerts and their runbook use them; the DLQ levels come from the settings (dlq_levels).
PIPELINE_PANELS: dict[str, dict[str, Any]] = {
    "ingest": {
        "title": "Ingest: events/min into Kafka, by topic",
        # The pipeline's topics always, other topics (tests, replays elsewhere) only while busy.
        "expr": 'adevents:kafka_messages_in:per_min{topic=~"ad_events_raw|ad_events_error"} '
        'or (adevents:kafka_messages_in:per_min{topic!~"__.*"} > 0)',
        "legend": "topic",
        "kind": "rate",
        "empty": "No topic metrics: is the Kafka JMX exporter up (make status)?",
    },
    "replay": {
        "title": "Replay: rows acknowledged/min, by topic",
        "expr": "adevents:replay_rows_published:per_min > 0",
        "legend": "topic",
        "kind": "rate",
        "empty": "No replay published rows in the last 30 minutes.",
    },
    "lag": {
        "title": "Consumer lag: records behind Kafka, by Flink job",
        "expr": "adevents:consumer_lag_records",
        "legend": "job_name",
        "kind": "records",
        "levels": (1000, 100_000),  # ConsumerLagGrowing: > 1,000 and growing
        "empty": "No Flink job running in the last 30 minutes.",
    },
    "checkpoint": {
        "title": "Checkpoint duration, by Flink job",
        "expr": "adevents:flink_checkpoint_duration_seconds",
        "legend": "job_name",
        "kind": "seconds",
        "empty": "No Flink job running in the last 30 minutes.",
    },
    "errors": {
        "title": "Errors: dead-letter share of events (5 min)",
        "expr": "adevents:dlq_ratio:rate5m",
        "legend": "",
        "kind": "percent",
        "levels": "dlq",
        "empty": "No traffic on the pipeline's topics in the last 30 minutes.",
    },
    "failed_checkpoints": {
        "title": "Failed checkpoints (10 min), by Flink job",
        "expr": "adevents:flink_checkpoints_failed:increase10m",
        "legend": "job_name",
        "kind": "count",
        "levels": (1, 1),  # FlinkCheckpointFailing: any
        "empty": "No Flink job running in the last 30 minutes.",
    },
    "latency": {
        "title": "End-to-end latency after the watermark",
        "expr": "adevents:e2e_latency_seconds",
        "legend": "",
        "kind": "seconds",
        "levels": (3, 5),  # EndToEndLatencyHigh: > 5 s
        "empty": "No live window (end within 15 min) in the last 30 minutes: replays of past days have none.",
    },
}


def dlq_levels(cfg: dict[str, str]) -> tuple[float, float]:
    """The DLQ-rate levels (warn, alert) as fractions: the settings dag_dlq_alert uses (0.1%, 1%)."""
    return float(cfg["DLQ_ALERT_WARN_RATIO"]), float(cfg["DLQ_ALERT_ALERT_RATIO"])


def panel_levels(panel: dict[str, Any], cfg: dict[str, str]) -> tuple[float, float] | None:
    """A panel's (warn, alert) in the unit it shows (percent for the DLQ share)."""
    levels = panel.get("levels")
    if levels == "dlq":
        warn, alert = dlq_levels(cfg)
        return warn * 100, alert * 100
    return levels


def own_series(label: str, value: str, cfg: dict[str, str]) -> bool:
    """Is this series the pipeline's own (not a test's or a benchmark's)?

    Tests and benchmarks use private topics and jobs (``wm_test_*``, ``dlq_test_*``, ``smoke_*``,
    ``bench_*``, ...) so they never touch the pipeline's; anything that is not the pipeline's own
    topic, its retry topics or its Flink job is one of them.
    """
    if label == "topic":
        raw, dlq = cfg["TOPIC_RAW"], cfg["TOPIC_DLQ"]
        return value in (raw, dlq) or value.startswith(f"{dlq}_retry_")
    if label == "job_name":
        return value == cfg["FLINK_JOB_NAME"]
    return True


class PrometheusError(RuntimeError):
    pass


def prom_get(base: str, path: str, params: dict[str, Any], timeout: float = 5.0) -> Any:
    url = f"{base.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body = json.loads(resp.read())
    if body.get("status") != "success":
        raise PrometheusError(body.get("error", "query failed"))
    return body["data"]


def prom_instant(base: str, expr: str) -> list[tuple[dict[str, str], float]]:
    data = prom_get(base, "/api/v1/query", {"query": expr})
    return [(r["metric"], float(r["value"][1])) for r in data["result"]]


def prom_range(base: str, expr: str, minutes: int = 30, step_s: int = 15) -> list[dict[str, Any]]:
    """Long-format rows (time, series label, value) for a chart."""
    end = datetime.now(UTC)
    data = prom_get(
        base,
        "/api/v1/query_range",
        {
            "query": expr,
            "start": (end - timedelta(minutes=minutes)).timestamp(),
            "end": end.timestamp(),
            "step": step_s,
        },
    )
    rows = []
    for series in data["result"]:
        for ts, value in series["values"]:
            rows.append(
                {
                    "time": datetime.fromtimestamp(float(ts), UTC),
                    "metric": series["metric"],
                    "value": float(value),
                }
            )
    return rows


def dlq_rate(base: str) -> float | None:
    """Dead-letter share of the events over 5 minutes (None: no traffic or Prometheus down)."""
    try:
        result = prom_instant(base, "adevents:dlq_ratio:rate5m")
    except Exception:
        return None
    values = [v for _, v in result if v == v]  # NaN: no traffic
    return values[0] if values else None


def e2e_latency(base: str) -> float | None:
    """Seconds from the watermark passing a live window's end to its row in PostgreSQL (None: no
    live window in the last 15 minutes, e.g. only replays of past days, or Prometheus down)."""
    try:
        result = prom_instant(base, "adevents:e2e_latency_seconds")
    except Exception:
        return None
    values = [v for _, v in result if v == v]
    return max(0.0, values[0]) if values else None
