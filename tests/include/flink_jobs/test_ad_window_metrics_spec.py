"""The streaming job's secrets travel in the submitting client's environment, never as job arguments."""

from __future__ import annotations

import pytest

from include.flink_jobs.ad_window_metrics import spec
from include.flink_jobs.ad_window_metrics.redis_cache import with_password


def test_the_spec_carries_the_passwords_in_its_env_and_none_in_its_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_PASSWORD", "redis-s3cret")
    monkeypatch.setenv("PG_STREAM_WRITER_PASSWORD", "pg-s3cret")
    job = spec.job_spec()
    env = dict(job.env)
    assert (env["ADEVENTS_REDIS_PASSWORD"], env["ADEVENTS_JDBC_PASSWORD"]) == ("redis-s3cret", "pg-s3cret")
    assert not [a for a in job.args if "s3cret" in a], job.args


def test_the_redis_url_gets_the_password_unless_it_has_credentials() -> None:
    assert with_password("redis://127.0.0.1:6379/0", "p@ss/w") == "redis://:p%40ss%2Fw@127.0.0.1:6379/0"
    assert with_password("redis://:other@127.0.0.1:6379/0", "p") == "redis://:other@127.0.0.1:6379/0"
    assert with_password("redis://127.0.0.1:6379/0", "") == "redis://127.0.0.1:6379/0"
