"""Files holding a secret (.env, the rendered configs with passwords or the Slack webhook, Airflow's
login file) are readable by their owner only (mode 0600), and are created that way: there is no moment
between a write and a chmod in which another user of the machine could read them."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from include import config

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "local_stack" / "bin"))

import render_configs  # noqa: E402


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask_and_no_chmod(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """umask 0 (a default write would be 0666) and chmod refused: only a file created 0600 passes."""

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("a secret file was chmod'ed after it was written")

    monkeypatch.setattr(os, "chmod", refused)
    monkeypatch.setattr(Path, "chmod", refused)
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_env_file_is_created_private(tmp_path: Path, open_umask_and_no_chmod: None) -> None:
    env_file = tmp_path / ".env"
    filled = config.generate_missing_secrets(env_file)
    assert "PG_OWNER_PASSWORD" in filled
    assert _mode(env_file) == 0o600
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"


def test_an_env_file_readable_by_others_is_replaced_by_a_private_one(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PG_OWNER_PASSWORD=keep-me\n")
    env_file.chmod(0o644)
    config.generate_missing_secrets(env_file)
    assert _mode(env_file) == 0o600
    assert "PG_OWNER_PASSWORD=keep-me" in env_file.read_text()


class _Anything(dict):  # type: ignore[type-arg]
    """Values for every ${NAME} of the templates: the settings' defaults, a placeholder for paths."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return f"/x/{key}"


def test_rendered_configs_with_a_secret_are_created_private(
    tmp_path: Path, open_umask_and_no_chmod: None
) -> None:
    values = _Anything(
        render_configs.local_values(config.resolve({"SLACK_WEBHOOK_URL": "https://hooks/T/B/X"}))
    )
    written = render_configs.render(render_configs.local_sources(), values, tmp_path, private_secrets=True)
    modes = {str(p.relative_to(tmp_path)): _mode(p) for p in written}
    for private in ("supervisord.conf", "alertmanager/slack_webhook_url", "redis/auth.conf"):
        assert modes[private] == 0o600, (private, oct(modes[private]))
    # PostgreSQL reads its own config as the postgres user: files without a secret stay readable.
    assert modes["postgres/postgresql.conf"] & 0o044


@pytest.mark.integration
def test_the_running_stacks_secret_files_are_private(cfg: dict[str, str]) -> None:
    secrets = [v for s in config.SETTINGS if s.secret and len(v := cfg[s.name]) >= 8]
    assert secrets, "no secret is set: is .env generated?"
    env_file = Path(os.environ.get("ADEVENTS_ENV_FILE", REPO / ".env"))
    assert _mode(env_file) == 0o600, f"{env_file} is {oct(_mode(env_file))}"
    run = Path(cfg["DATA_DIR"]) / "run"
    holders = [run / "../airflow/simple_auth_manager_passwords.json"]
    holders += [
        p for p in (run / "conf").rglob("*") if p.is_file() and any(s in p.read_text() for s in secrets)
    ]
    assert len(holders) >= 3, holders  # the Airflow logins, supervisord.conf, the Slack webhook at least
    exposed = [f"{p} ({oct(_mode(p))})" for p in holders if _mode(p) != 0o600]
    assert not exposed, "secret files readable by others: " + ", ".join(exposed)
