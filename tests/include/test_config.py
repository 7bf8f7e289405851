"""include/config.py: one declaration per setting, environment over .env over default."""

from __future__ import annotations

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
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert filled == ["PG_OWNER_PASSWORD"]
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
