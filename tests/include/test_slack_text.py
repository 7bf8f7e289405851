"""Values posted to Slack are shown literally: no mention, no disguised link, no entity."""

from __future__ import annotations

import pytest

from include.slack_text import escape, link


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<http://evil.example|click>", "&lt;http://evil.example|click&gt;"),
        ("<@U024BE7LH>", "&lt;@U024BE7LH&gt;"),
        ("a &lt; b", "a &amp;lt; b"),  # an entity someone typed stays what they typed
        ("plain_name-1.csv", "plain_name-1.csv"),
    ],
)
def test_escape(value: str, shown: str) -> None:
    assert escape(value) == shown


def test_a_link_keeps_its_target_and_escapes_both_parts() -> None:
    assert (
        link("http://af/x?a=1&b=<2>", "run <!here>") == "<http://af/x?a=1&amp;b=&lt;2&gt;|run &lt;!here&gt;>"
    )
    # A | in the URL would end it early and make the rest the label.
    assert link("http://af/x|<!channel>", "log").startswith("<http://af/x%7C&lt;!channel&gt;|log>")
