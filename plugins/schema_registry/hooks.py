"""Airflow hook for a Confluent-compatible schema registry."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

from include.schema_registry import SchemaRegistryClient


class SchemaRegistryHook(BaseHook):
    """Owns the ``schema_registry`` connection and builds a :class:`SchemaRegistryClient` from it.

    - The connection's host is the API root, either a full URL
      (``http://127.0.0.1:8085/apis/ccompat/v7``) or a host with ``schema``/``port``; the extra
      ``{"path": "/apis/ccompat/v7"}`` adds a path to the latter.
    - Its login and password, when a login is set, are the registry's HTTP basic auth; without a
      login the client uses SCHEMA_REGISTRY_USERNAME/PASSWORD (none by default).

    :param schema_registry_conn_id: connection id. Default: ``schema_registry``.
    """

    conn_name_attr = "schema_registry_conn_id"
    default_conn_name = "schema_registry"
    conn_type = "http"
    hook_name = "Schema Registry"

    def __init__(self, schema_registry_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.schema_registry_conn_id = schema_registry_conn_id

    @cached_property
    def base_url(self) -> str:
        conn = self.get_connection(self.schema_registry_conn_id)
        if not conn.host:
            raise ValueError(
                f"connection {self.schema_registry_conn_id!r} has no host: set AIRFLOW_CONN_SCHEMA_REGISTRY"
            )
        if "://" in conn.host:
            return conn.host.rstrip("/")
        port = f":{conn.port}" if conn.port else ""
        path = conn.extra_dejson.get("path", "")
        return f"{conn.schema or 'http'}://{conn.host}{port}{path}".rstrip("/")

    def get_conn(self) -> SchemaRegistryClient:
        return self.client

    @cached_property
    def auth(self) -> tuple[str, str] | None:
        conn = self.get_connection(self.schema_registry_conn_id)
        return (conn.login, conn.password or "") if conn.login else None

    @cached_property
    def client(self) -> SchemaRegistryClient:
        return SchemaRegistryClient(self.base_url, auth=self.auth)

    def test_connection(self) -> tuple[bool, str]:
        try:
            subjects = self.client.get_subjects()
        except Exception as exc:
            return False, f"{self.base_url}: {exc}"
        return True, f"{self.base_url}: {len(subjects)} subject(s)"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {"relabeling": {"host": "Registry API URL", "login": "Basic auth user (optional)"}}
