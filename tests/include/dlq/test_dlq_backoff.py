"""include/dlq/backoff.py: exponential, capped, per attempt."""

from __future__ import annotations

import pytest

from include.dlq.backoff import BackoffPolicy


def test_delays_double_per_attempt_until_the_cap():
    policy = BackoffPolicy(base_s=60, cap_s=300, max_attempts=5)
    assert [policy.delay_s(n) for n in range(1, 6)] == [60, 120, 240, 300, 300]


def test_due_counts_from_the_failure_time():
    policy = BackoffPolicy(base_s=2, cap_s=100)
    assert policy.due_ms(2, 10_000) == 14_000
    assert not policy.is_due(2, 10_000, 13_999)
    assert policy.is_due(2, 10_000, 14_000)


def test_zero_base_retries_at_once_and_last_attempt():
    policy = BackoffPolicy(base_s=0, cap_s=0, max_attempts=3)
    assert policy.is_due(3, 5, 5)
    assert [policy.is_last(n) for n in (1, 2, 3)] == [False, False, True]


def test_huge_attempt_numbers_do_not_overflow():
    assert BackoffPolicy(base_s=1, cap_s=7).delay_s(10_000) == 7


def test_from_config_and_validation():
    cfg = {"DLQ_RETRY_BACKOFF_BASE_S": "0.5", "DLQ_RETRY_BACKOFF_CAP_S": "4", "DLQ_RETRY_MAX_ATTEMPTS": "3"}
    assert BackoffPolicy.from_config(cfg) == BackoffPolicy(0.5, 4.0, 3)
    with pytest.raises(ValueError):
        BackoffPolicy(base_s=-1)
    with pytest.raises(ValueError):
        BackoffPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        BackoffPolicy().delay_s(0)
