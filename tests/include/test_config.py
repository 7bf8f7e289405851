"""include/config.py: one declaration per setting, environment over .env over default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from include import config

REPO = Path(__file__).resolve().parents[2]


def test_env_example_is_generated_from_the_settings():
    assert (
        REPO / ".env.example"
    ).read_text() == config.env_example(), "run: python3 -m include.config --env-example > .env.example"


def test_env_example_carries_no_secret_values():
    for setting in config.SETTINGS:
        if setting.secret and not setting.default:
            assert f"\n{setting.name}=\n" in config.env_example()


def test_environment_wins_then_defaults_with_placeholders():
    cfg = config.resolve({"DATA_DIR": "/srv/adevents", "PG_PORT": "6543"})
    assert cfg["PG_PORT"] == "6543"
    assert cfg["FLINK_CHECKPOINTS_URI"] == "file:///srv/adevents/checkpoints"
    assert config.resolve({})["PG_PORT"] == "5432"


def test_env_file_is_read_below_the_environment(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nPG_PORT=7777\nREDIS_PORT='6380'\n")
    monkeypatch.setenv("ADEVENTS_ENV_FILE", str(env_file))
    monkeypatch.delenv("PG_PORT", raising=False)
    monkeypatch.setenv("REDIS_PORT", "6390")
    cfg = config.resolve()
    assert (cfg["PG_PORT"], cfg["REDIS_PORT"]) == ("7777", "6390")


def test_generate_missing_secrets_fills_only_empty_generated_ones(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PG_OWNER_PASSWORD=\nPG_DBT_PASSWORD=keep-me\nAIRFLOW_ADMIN_PASSWORD=admin\n")
    filled = config.generate_missing_secrets(env_file)
    values = config.read_env_file(env_file)
    assert filled[0] == "PG_OWNER_PASSWORD" and "PG_DBT_PASSWORD" not in filled
    assert len(values["PG_OWNER_PASSWORD"]) >= 24
    assert values["PG_DBT_PASSWORD"] == "keep-me"
    assert config.generate_missing_secrets(env_file) == []


def test_airflow_connections_quote_passwords(monkeypatch):
    for name in config.airflow_connections():
        monkeypatch.delenv(name, raising=False)
    cfg = config.resolve(
        {"PG_OWNER_PASSWORD": "p@ss/w:rd", "SLACK_WEBHOOK_URL": "https://hooks.example/services/T/B/X"}
    )
    conns = config.airflow_connections(cfg)
    assert "p%40ss%2Fw%3Ard@" in conns["AIRFLOW_CONN_PIPELINE_DB"]
    assert '"password": "services/T/B/X"' in conns["AIRFLOW_CONN_SLACK_ALERTS"]


def test_unknown_setting_is_a_clear_error():
    with pytest.raises(KeyError, match="declare it in include/config.py"):
        config.get("NO_SUCH_SETTING")


def test_a_fresh_env_gets_a_generated_airflow_admin_password(tmp_path):
    env_file = tmp_path / ".env"
    assert "AIRFLOW_ADMIN_PASSWORD" in config.generate_missing_secrets(env_file)
    password = config.read_env_file(env_file)["AIRFLOW_ADMIN_PASSWORD"]
    assert len(password) >= 24 and password != "admin"
    assert config.insecure_settings(config.resolve(config.read_env_file(env_file))) == []


def test_an_older_env_keeps_its_values_and_gets_the_secrets_added_since(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("PG_OWNER_PASSWORD=keep-me\nAIRFLOW_ADMIN_PASSWORD=admin\n")
    filled = config.generate_missing_secrets(env_file)
    values = config.read_env_file(env_file)
    assert (values["PG_OWNER_PASSWORD"], values["AIRFLOW_ADMIN_PASSWORD"]) == ("keep-me", "admin")
    assert "PG_DBT_PASSWORD" in filled and len(values["PG_DBT_PASSWORD"]) >= 24
    assert config.generate_missing_secrets(env_file) == []


def test_the_well_known_admin_password_still_works_but_is_warned_about(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("AIRFLOW_ADMIN_PASSWORD=admin\n")
    result = subprocess.run(
        [sys.executable, "-m", "include.config", "--init-env", str(env_file)],
        cwd=REPO, capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert "warning: AIRFLOW_ADMIN_PASSWORD is 'admin'" in result.stderr
    assert config.read_env_file(env_file)["AIRFLOW_ADMIN_PASSWORD"] == "admin"


def test_every_postgres_client_kind_gets_the_same_tls_parameters(monkeypatch):
    for name in config.airflow_connections():
        monkeypatch.delenv(name, raising=False)
    cfg = config.resolve({"DATA_DIR": "/srv/my data", "PG_HOST": "db.example", "PG_PORT": "6543"})
    assert cfg["PG_SSLMODE"] == "verify-full"
    assert config.pg_ssl_params(cfg) == {
        "sslmode": "verify-full",
        "sslrootcert": "/srv/my data/tls/postgres/ca.crt",
    }
    assert config.pg_jdbc_url(cfg) == (
        "jdbc:postgresql://db.example:6543/adevents?sslmode=verify-full&sslrootcert=/srv/my%20data/tls/postgres/ca.crt"
    )
    assert config.pg_keywords(cfg) == "sslmode=verify-full sslrootcert='/srv/my data/tls/postgres/ca.crt'"
    conn = config.airflow_connections(cfg)["AIRFLOW_CONN_PIPELINE_DB_DBT"]
    assert conn.endswith(
        "@db.example:6543/adevents?sslmode=verify-full&sslrootcert=/srv/my%20data/tls/postgres/ca.crt"
    )
    assert config.derived_settings(cfg)["PG_HBA_TCP"] == "hostssl"


def test_tls_off_names_no_root_certificate_and_lets_the_server_take_plaintext():
    cfg = config.resolve({"PG_SSLMODE": "disable"})
    assert config.pg_ssl_params(cfg) == {"sslmode": "disable"}
    assert config.derived_settings(cfg)["PG_HBA_TCP"] == "host"


def test_an_unknown_sslmode_is_a_one_line_error_before_anything_starts():
    env = {**os.environ, "PG_SSLMODE": "verify_full"}
    done = subprocess.run(
        [sys.executable, "-m", "include.config", "--shell"], env=env, cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert "PG_SSLMODE must be one of disable, allow, prefer, require, verify-ca, verify-full" in done.stderr
