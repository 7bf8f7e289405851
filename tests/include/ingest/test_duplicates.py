"""The duplicate-id rule: the first copy of an id in its UTC day is the event, later copies are not."""

from __future__ import annotations

from include.ingest.duplicates import FirstCopies, duplicate_message


def test_later_copies_within_a_day_are_repeats_and_a_new_day_starts_afresh() -> None:
    copies = FirstCopies()
    assert [copies.is_repeat(i, 16_000) for i in (b"1", b"2", b"1", b"1")] == [False, False, True, True]
    assert copies.is_repeat(b"1", 16_001) is False  # the next UTC day: the same id is a new event
    assert copies.is_repeat(b"2", 16_001) is False
    assert copies.is_repeat(b"2", 16_001) is True


def test_the_message_names_the_id_and_the_utc_day() -> None:
    ms = 1_413_849_600_000 + 5 * 3_600_000  # 2014-10-21 05:00 UTC
    assert duplicate_message("42", ms) == (
        "event id 42 was already read earlier in this file for 2014-10-21 (UTC): the first copy counts"
    )
