"""The settings read back from the Airflow connections are the settings they were made from."""

from __future__ import annotations

import pytest
from airflow.sdk.definitions.connection import Connection

from include import config
from include.connection_settings import CONNECTION_SETTINGS, changes, settings_from


def _parse(conn_id: str, value: str) -> Connection:
    """As Airflow reads an AIRFLOW_CONN_* value: JSON or a URI."""
    if value.lstrip().startswith("{"):
        return Connection.from_json(value, conn_id=conn_id)
    return Connection.from_uri(value, conn_id=conn_id)


def _connections(cfg: dict[str, str]) -> dict[str, Connection]:
    return {
        name.removeprefix("AIRFLOW_CONN_").lower(): _parse(name.removeprefix("AIRFLOW_CONN_").lower(), value)
        for name, value in config.airflow_connections(cfg).items()
    }


@pytest.fixture
def cfg(monkeypatch) -> dict[str, str]:
    for conn_id in CONNECTION_SETTINGS:
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id.upper()}", raising=False)
    env = {
        "PG_HOST": "db.example.org",
        "PG_PORT": "6543",
        "PG_DATABASE": "ads",
        "PG_SSLMODE": "verify-full",
        "PG_SSLROOTCERT": "/etc/ssl/ca.pem",
        "REDIS_HOST": "cache.example.org",
        "REDIS_PORT": "6380",
        "KAFKA_BOOTSTRAP_SERVERS": "k1.example.org:9093,k2.example.org:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "pipeline",
        "KAFKA_SSL_CA_LOCATION": "/etc/kafka/ca.pem",
        "SCHEMA_REGISTRY_USERNAME": "registry-user",
        "SCHEMA_REGISTRY_URL": "https://registry.example.org/apis/ccompat/v7",
        "FLINK_REST_URL": "https://flink.example.org:8443",
        "AIRFLOW_URL": "http://airflow.internal:8080",
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/xyz",
    }
    # Secrets with characters a URI must escape.
    for setting in config.SETTINGS:
        if setting.secret and setting.name not in env:
            env[setting.name] = f"p@ss:/{setting.name.lower()}#?"
    return config.resolve(env)


def test_every_connection_reads_back_the_settings_it_was_made_from(cfg):
    overlay = settings_from(_connections(cfg))
    assert {name: overlay[name] for name in overlay} == {name: cfg[name] for name in overlay}
    for expected in (
        "PG_HOST",
        "PG_PORT",
        "PG_DATABASE",
        "PG_SSLMODE",
        "PG_SSLROOTCERT",
        "PG_OWNER_PASSWORD",
        "PG_STREAM_WRITER_USER",
        "PG_STREAM_WRITER_PASSWORD",
        "PG_DBT_PASSWORD",
        "PG_DASHBOARD_PASSWORD",
        "KAFKA_BOOTSTRAP_SERVERS",
        "KAFKA_SECURITY_PROTOCOL",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
        "KAFKA_SSL_CA_LOCATION",
        "SCHEMA_REGISTRY_URL",
        "SCHEMA_REGISTRY_USERNAME",
        "SCHEMA_REGISTRY_PASSWORD",
        "FLINK_REST_URL",
        "AIRFLOW_URL",
        "AIRFLOW_PIPELINE_PASSWORD",
        "REDIS_HOST",
        "REDIS_PORT",
        "REDIS_PASSWORD",
        "SLACK_WEBHOOK_URL",
    ):
        assert expected in overlay, f"no connection stands for {expected}"


def test_the_default_configuration_is_unchanged_by_its_own_connections(monkeypatch):
    for conn_id in CONNECTION_SETTINGS:
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id.upper()}", raising=False)
    cfg = config.resolve()
    assert changes(settings_from(_connections(cfg)), cfg) == []


def test_a_changed_kafka_connection_changes_only_the_kafka_settings(cfg):
    """A connection without security extras is a PLAINTEXT one (librdkafka's default)."""
    conns = _connections(cfg)
    conns["kafka_default"] = Connection.from_json(
        '{"conn_type": "kafka", "extra": {"bootstrap.servers": "other:9092"}}', conn_id="kafka_default"
    )
    assert changes(settings_from(conns), cfg) == [
        f"KAFKA_BOOTSTRAP_SERVERS {cfg['KAFKA_BOOTSTRAP_SERVERS']!r} -> 'other:9092'",
        "KAFKA_SECURITY_PROTOCOL 'SASL_SSL' -> 'PLAINTEXT'",
    ]


def test_a_changed_secret_is_named_never_shown(cfg):
    conns = _connections(cfg)
    conns["redis_default"] = Connection.from_uri("redis://:n3w-s3cret@cache.example.org:6380/0", conn_id="r")
    lines = changes(settings_from(conns), cfg)
    assert lines == ["REDIS_PASSWORD (changed)"]
    assert not any("n3w-s3cret" in line for line in lines)


def test_a_connection_with_host_and_port_fields_gives_a_url():
    conn = Connection(
        conn_id="flink_rest", conn_type="http", host="flink.example.org", port=8081, schema="https"
    )
    assert settings_from({"flink_rest": conn}) == {"FLINK_REST_URL": "https://flink.example.org:8081"}


def test_unknown_connections_are_ignored():
    assert settings_from({"some_other": Connection(conn_id="some_other", conn_type="http", host="x")}) == {}
