"""The settings an Airflow connection stands for: the inverse of ``config.airflow_connections()``.

Inside Airflow the connections are the single source of every endpoint and credential: before each
task runs, the settings below are taken from the task's view of the connections (env var, metastore
or secrets backend) and laid over the environment, so the Airflow-free library, the subprocesses it
starts and the Flink job it submits all use what the connection says. Outside Airflow (CLI,
dashboard, tests) the same settings come from the environment and ``.env``; by default the
connections are derived from those settings, so both views agree until someone changes a connection.

This module is Airflow-free: it reads any object with a connection's attributes (``host``,
``port``, ``login``, ``password``, ``schema``, ``extra_dejson``).

PostgreSQL: host, port, database and TLS come from ``pipeline_db``; each other PostgreSQL
connection gives its login only (one server, several roles).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from include import config


class ConnectionLike(Protocol):
    host: str | None
    port: int | None
    login: str | None
    password: str | None
    schema: str | None

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


def _login(prefix: str) -> Callable[..., dict[str, str]]:
    def settings(c: ConnectionLike, user: str = "USER") -> dict[str, str]:
        return {f"{prefix}_{user}": c.login or "", f"{prefix}_PASSWORD": c.password or ""}

    return settings


def _postgres_server(c: ConnectionLike) -> dict[str, str]:
    extra = c.extra_dejson
    out = {
        "PG_HOST": c.host or "",
        "PG_PORT": str(c.port or 5432),
        "PG_DATABASE": c.schema or "",
        **_login("PG_OWNER")(c),
    }
    if "sslmode" in extra:
        out["PG_SSLMODE"] = str(extra["sslmode"])
    if "sslrootcert" in extra:
        out["PG_SSLROOTCERT"] = str(extra["sslrootcert"])
    return out


# librdkafka property in the Kafka connection's extras -> setting (config.kafka_security_params).
KAFKA_EXTRAS = {
    "bootstrap.servers": "KAFKA_BOOTSTRAP_SERVERS",
    "sasl.mechanism": "KAFKA_SASL_MECHANISM",
    "sasl.username": "KAFKA_SASL_USERNAME",
    "sasl.password": "KAFKA_SASL_PASSWORD",
    "ssl.ca.location": "KAFKA_SSL_CA_LOCATION",
}


def _kafka(c: ConnectionLike) -> dict[str, str]:
    extra = c.extra_dejson
    # No security.protocol in the extras is librdkafka's default, PLAINTEXT.
    out = {"KAFKA_SECURITY_PROTOCOL": str(extra.get("security.protocol", "PLAINTEXT"))}
    return out | {setting: str(extra[key]) for key, setting in KAFKA_EXTRAS.items() if key in extra}


def _url(setting: str) -> Callable[[ConnectionLike], dict[str, str]]:
    """An HTTP connection whose host holds the whole base URL (as airflow_connections writes it)."""

    def settings(c: ConnectionLike) -> dict[str, str]:
        host = c.host or ""
        if "://" not in host:
            scheme = (c.schema or "http") if c.schema in ("http", "https") else "http"
            host = f"{scheme}://{host}" + (f":{c.port}" if c.port else "")
        return {setting: host.rstrip("/")}

    return settings


def _schema_registry(c: ConnectionLike) -> dict[str, str]:
    return {**_url("SCHEMA_REGISTRY_URL")(c), **_login("SCHEMA_REGISTRY")(c, "USERNAME")}


def _airflow_api(c: ConnectionLike) -> dict[str, str]:
    return {**_url("AIRFLOW_URL")(c), **_login("AIRFLOW_PIPELINE")(c)}


def _redis(c: ConnectionLike) -> dict[str, str]:
    return {"REDIS_HOST": c.host or "", "REDIS_PORT": str(c.port or 6379), "REDIS_PASSWORD": c.password or ""}


def _slack(c: ConnectionLike) -> dict[str, str]:
    # The Slack provider posts to host + password (the webhook's token path).
    host, token = (c.host or "").rstrip("/"), (c.password or "").lstrip("/")
    return {"SLACK_WEBHOOK_URL": f"{host}/{token}" if token else host}


# Airflow connection id -> the settings it stands for.
CONNECTION_SETTINGS: dict[str, Callable[..., dict[str, str]]] = {
    "pipeline_db": _postgres_server,
    "pipeline_db_stream_writer": _login("PG_STREAM_WRITER"),
    "pipeline_db_dbt": _login("PG_DBT"),
    "pipeline_db_dashboard": _login("PG_DASHBOARD"),
    "kafka_default": _kafka,
    "schema_registry": _schema_registry,
    "flink_rest": _url("FLINK_REST_URL"),
    "airflow_api": _airflow_api,
    "redis_default": _redis,
    "slack_alerts": _slack,
}

SECRET_SETTINGS = frozenset(s.name for s in config.SETTINGS if s.secret) | {"SLACK_WEBHOOK_URL"}


def settings_from(connections: Mapping[str, ConnectionLike]) -> dict[str, str]:
    """The settings the given connections (by id) stand for; ids not in CONNECTION_SETTINGS are ignored."""
    out: dict[str, str] = {}
    for conn_id, conn in connections.items():
        to_settings = CONNECTION_SETTINGS.get(conn_id)
        if to_settings is not None:
            out.update(to_settings(conn))
    return out


def changes(overlay: Mapping[str, str], cfg: Mapping[str, str]) -> list[str]:
    """One line per setting a connection changes, for the task log; secrets are named, never shown."""
    lines = []
    for name, value in sorted(overlay.items()):
        if cfg.get(name) == value:
            continue
        shown = "(changed)" if name in SECRET_SETTINGS else f"{cfg.get(name, '')!r} -> {value!r}"
        lines.append(f"{name} {shown}")
    return lines
