"""include/kafka/topic_policy.py: a topic param names the configured topic of its kind or an allowed extra."""

from __future__ import annotations

import re

import pytest

from include import config
from include.kafka.topic_policy import TopicNotAllowed, check, is_allowed, param_pattern, refusal

DEFAULTS = config.resolve({})


@pytest.mark.parametrize(
    ("kind", "topic", "allowed"),
    [
        ("raw", "ad_events_raw", True),
        ("raw", "scratch_raw_trial_1", True),
        ("raw", "ad_events_error", False),  # the DLQ is not a raw topic
        ("raw", "ad_events_error_retry_1", False),
        ("raw", "scratch_dlq_x", False),
        ("raw", "__consumer_offsets", False),
        ("raw", "ad_events_raw_copy", False),  # a configured name is exact, not a prefix
        ("dlq", "ad_events_error", True),
        ("dlq", "scratch_dlq_trial", True),
        ("dlq", "ad_events_raw", False),
        ("dlq", "scratch_raw_trial", False),
    ],
)
def test_defaults_allow_the_configured_topic_and_the_scratch_namespace_of_each_kind(
    kind: str, topic: str, allowed: bool
) -> None:
    assert is_allowed(kind, topic, DEFAULTS) is allowed
    # The Trigger form's pattern and the task's check agree on every name.
    assert bool(re.fullmatch(param_pattern(kind, DEFAULTS), topic)) is allowed


def test_a_refused_topic_is_one_line_naming_what_is_allowed() -> None:
    with pytest.raises(TopicNotAllowed) as refused:
        check("raw", "ad_events_error", DEFAULTS)
    message = str(refused.value)
    assert message == (
        "topic 'ad_events_error' is not an allowed raw topic: allowed are ad_events_raw, scratch_raw_* "
        "(settings TOPIC_RAW and TOPIC_RAW_EXTRA)"
    )


def test_none_closes_the_extras_and_names_are_exact() -> None:
    closed = config.resolve({"TOPIC_RAW_EXTRA": "none"})
    assert not is_allowed("raw", "scratch_raw_trial", closed)
    assert is_allowed("raw", "ad_events_raw", closed)
    listed = config.resolve({"TOPIC_RAW_EXTRA": "team.a_events, backfill_*"})
    assert is_allowed("raw", "team.a_events", listed) and is_allowed("raw", "backfill_2014", listed)
    assert not is_allowed("raw", "teamXa_events", listed)  # the dot is literal, in the pattern too
    assert not re.fullmatch(param_pattern("raw", listed), "teamXa_events")


def test_the_form_pattern_accepts_empty_for_the_setting() -> None:
    assert re.fullmatch(param_pattern("dlq", DEFAULTS), "")


def test_a_malformed_allow_list_entry_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="TOPIC_DLQ_EXTRA"):
        is_allowed("dlq", "x", config.resolve({"TOPIC_DLQ_EXTRA": "bad topic*"}))


def test_refusal_names_the_first_refused_topic_and_skips_unset_ones() -> None:
    assert refusal(DEFAULTS, raw="ad_events_raw", dlq=None) is None
    assert refusal(DEFAULTS, raw="scratch_raw_a", dlq="scratch_dlq_a") is None
    reason = refusal(DEFAULTS, raw="ad_events_raw", dlq="ad_events_raw")
    assert reason is not None and reason.startswith("topic 'ad_events_raw' is not an allowed dlq topic")
