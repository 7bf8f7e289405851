"""The one builder of Kafka client configurations: each protocol and mechanism gives the keys its
client needs, PLAINTEXT gives what it always did, and a wrong setting is one line before any client
starts. Pure logic, plus a look into the Flink connector jar the job really runs with."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from include import config
from include.flink_jobs.ad_window_metrics import job
from include.kafka.client_conf import FLINK_SHADED_PREFIX, client_conf, java_client_properties, secrets_of


def settings(**overrides: str) -> dict[str, str]:
    return config.resolve({"KAFKA_BOOTSTRAP_SERVERS": "broker:9096", **overrides})


SASL_SSL = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_USERNAME": "alice",
    "KAFKA_SASL_PASSWORD": 'pa"ss\\word',
    "KAFKA_SSL_CA_LOCATION": "/etc/kafka/ca.pem",
}


def test_plaintext_gives_only_the_bootstrap_servers():
    assert client_conf(settings()) == {"bootstrap.servers": "broker:9096"}
    assert client_conf(settings(), bootstrap="other:9092") == {"bootstrap.servers": "other:9092"}
    assert java_client_properties(settings()) == {}
    assert secrets_of(settings()) == []


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_ssl_carries_the_mechanism_credentials_and_ca(mechanism):
    conf = client_conf(settings(**SASL_SSL, KAFKA_SASL_MECHANISM=mechanism), extra={"acks": "all"})
    assert conf == {
        "bootstrap.servers": "broker:9096",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.username": "alice",
        "sasl.password": 'pa"ss\\word',
        "ssl.ca.location": "/etc/kafka/ca.pem",
        "acks": "all",
    }


def test_ssl_alone_has_no_sasl_keys_and_sasl_plaintext_no_ca():
    ssl = client_conf(settings(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CA_LOCATION="/ca.pem"))
    assert ssl == {
        "bootstrap.servers": "broker:9096",
        "security.protocol": "SSL",
        "ssl.ca.location": "/ca.pem",
    }
    plain = client_conf(settings(**{**SASL_SSL, "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}))
    assert plain["security.protocol"] == "SASL_PLAINTEXT" and "ssl.ca.location" not in plain
    # Without a CA file the client trusts the system's CAs: no key at all, not an empty one.
    assert "ssl.ca.location" not in client_conf(settings(**{**SASL_SSL, "KAFKA_SSL_CA_LOCATION": ""}))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL"),
        ({**SASL_SSL, "KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM must be one of PLAIN"),
        ({**SASL_SSL, "KAFKA_SASL_USERNAME": ""}, "KAFKA_SASL_USERNAME is empty"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it(overrides, message):
    with pytest.raises(ValueError, match=message) as raised:
        client_conf(settings(**overrides))
    assert "\n" not in str(raised.value)


def test_the_flink_properties_name_login_modules_the_connector_jar_ships():
    cfg = settings(**SASL_SSL, KAFKA_SASL_MECHANISM="SCRAM-SHA-256")
    props = java_client_properties(cfg)
    assert props["security.protocol"] == "SASL_SSL" and props["sasl.mechanism"] == "SCRAM-SHA-256"
    assert props["ssl.truststore.type"] == "PEM" and props["ssl.truststore.location"] == "/etc/kafka/ca.pem"
    jaas = props["sasl.jaas.config"]
    assert jaas.endswith(' required username="alice" password="pa\\"ss\\\\word";')
    jars = list(Path(config.resolve()["FLINK_LIB_DIR"]).glob("flink-sql-connector-kafka-*.jar"))
    assert jars, "the Kafka SQL connector jar is missing: run make install"
    classes = set(zipfile.ZipFile(jars[0]).namelist())
    for mechanism in ("PLAIN", "SCRAM-SHA-256"):
        module = java_client_properties({**cfg, "KAFKA_SASL_MECHANISM": mechanism})[
            "sasl.jaas.config"
        ].split()[0]
        assert module.startswith(FLINK_SHADED_PREFIX)
        assert module.replace(".", "/") + ".class" in classes


def test_the_jobs_kafka_tables_carry_the_security_properties_and_its_printout_hides_the_password():
    cfg = settings(**SASL_SSL, KAFKA_SASL_MECHANISM="PLAIN")
    args = job.parse_args(["--source-topic", "t", "--dlq-topic", "d", "--redis-url", ""], cfg)
    ddl, inserts = job.statements(args, cfg)
    kafka_tables = [d for d in ddl if "'connector' = 'kafka'" in d]
    assert len(kafka_tables) == 2  # the source and the DLQ sink
    for table in kafka_tables:
        assert "'properties.security.protocol' = 'SASL_SSL'" in table
        assert "'properties.sasl.mechanism' = 'PLAIN'" in table
        assert "'properties.sasl.jaas.config' = 'org.apache.flink.kafka.shaded." in table
        assert "'properties.ssl.truststore.type' = 'PEM'" in table
        assert "'properties.ssl.truststore.location' = '/etc/kafka/ca.pem'" in table
    printed = job.masked("\n".join([*ddl, *inserts]), secrets_of(cfg))
    assert "pa" + '\\"ss' not in printed and 'pa"ss' not in printed and 'password="***"' in printed
    # PLAINTEXT (the default): the tables are exactly what they were.
    plain_ddl, _ = job.statements(args, settings())
    assert "properties.security" not in "\n".join(plain_ddl)


def test_airflow_kafka_connection_carries_the_same_keys(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_KAFKA_DEFAULT", raising=False)

    cfg = settings(**SASL_SSL, KAFKA_SASL_MECHANISM="SCRAM-SHA-512")
    extra = json.loads(config.airflow_connections(cfg)["AIRFLOW_CONN_KAFKA_DEFAULT"])["extra"]
    assert extra == client_conf(cfg)
    extra = json.loads(config.airflow_connections(settings())["AIRFLOW_CONN_KAFKA_DEFAULT"])["extra"]
    assert extra == {"bootstrap.servers": "broker:9096"}


def test_the_user_supplied_kafka_password_is_never_generated(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("KAFKA_SASL_PASSWORD=\nKAFKA_LOCAL_SASL_PASSWORD=\n")
    filled = config.generate_missing_secrets(env_file)
    values = config.read_env_file(env_file)
    assert "KAFKA_LOCAL_SASL_PASSWORD" in filled and len(values["KAFKA_LOCAL_SASL_PASSWORD"]) >= 24
    assert "KAFKA_SASL_PASSWORD" not in filled and values["KAFKA_SASL_PASSWORD"] == ""
    assert "SCHEMA_REGISTRY_PASSWORD" not in filled
