"""The configuration of every Kafka client of the pipeline, built in one place from the settings.

:func:`client_conf` gives librdkafka's (confluent-kafka's Producer, Consumer and AdminClient);
:func:`java_client_properties` gives the Java client's, for the Flink job's Kafka tables. Both carry
KAFKA_SECURITY_PROTOCOL with its SASL and TLS settings (include/config.py), so pointing the pipeline
at a secured cluster is a matter of settings, never of code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from include import config

# The Flink SQL Kafka connector shades the Kafka client: its JAAS login modules live under this
# package, and the unshaded class names fail at runtime with "No LoginModule found".
FLINK_SHADED_PREFIX = "org.apache.flink.kafka.shaded."
_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


def client_conf(
    cfg: Mapping[str, str] | None = None,
    bootstrap: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """librdkafka configuration: ``bootstrap.servers`` (``bootstrap``, else KAFKA_BOOTSTRAP_SERVERS),
    the security keys of the settings (none for PLAINTEXT), then ``extra`` (the caller's tuning)."""
    cfg = cfg if cfg is not None else config.resolve()
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap or cfg["KAFKA_BOOTSTRAP_SERVERS"]}
    conf |= config.kafka_security_params(cfg)
    conf |= dict(extra or {})
    return conf


def java_client_properties(
    cfg: Mapping[str, str] | None = None, login_module_prefix: str = FLINK_SHADED_PREFIX
) -> dict[str, str]:
    """The Java Kafka client's security properties for the same settings (none for PLAINTEXT).

    The CA is read as a PEM trust store. ``login_module_prefix`` is the package the client's classes
    are shaded under ("" for an unshaded client).
    """
    params = config.kafka_security_params(cfg)
    if not params:
        return {}
    props = {"security.protocol": params["security.protocol"]}
    if "sasl.mechanism" in params:
        module = login_module_prefix + _LOGIN_MODULES[params["sasl.mechanism"]]
        username, password = _jaas_quote(params["sasl.username"]), _jaas_quote(params["sasl.password"])
        props |= {
            "sasl.mechanism": params["sasl.mechanism"],
            "sasl.jaas.config": f'{module} required username="{username}" password="{password}";',
        }
    if "ssl.ca.location" in params:
        props |= {"ssl.truststore.type": "PEM", "ssl.truststore.location": params["ssl.ca.location"]}
    return props


def secrets_of(cfg: Mapping[str, str] | None = None) -> list[str]:
    """The Kafka secrets that appear in the configurations above: what a log must mask."""
    params = config.kafka_security_params(cfg)
    password = params.get("sasl.password", "")
    return [s for s in {password, _jaas_quote(password)} if s]


def _jaas_quote(value: str) -> str:
    # A JAAS option value is a double-quoted string: a quote or backslash inside is escaped.
    return value.replace("\\", "\\\\").replace('"', '\\"')
