"""Text for Slack's mrkdwn: every value we did not write ourselves is escaped before it is posted.

Slack reads ``<...>`` as a control sequence (``<!channel>`` notifies everyone in the channel,
``<http://x|click>`` is a link showing only "click") and ``&`` as the start of an entity. A file
name, a DAG param, a run id or a dead letter's error message can carry any of them, so each such
value goes through :func:`escape` and is shown literally; the message's own links are written
around the escaped values. Slack asks for exactly these three characters (api.slack.com,
"Formatting text for app surfaces": escaping text).
"""

from __future__ import annotations

from typing import Any


def escape(value: Any) -> str:
    """``str(value)`` with ``&``, ``<`` and ``>`` as Slack's ``&amp;``, ``&lt;`` and ``&gt;``."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A mrkdwn link to ``url`` showing ``label``; both escaped (``|`` would end the URL early)."""
    return f"<{escape(url).replace('|', '%7C')}|{escape(label)}>"
