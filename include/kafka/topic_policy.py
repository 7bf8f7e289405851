"""Which Kafka topics a person may name in a DAG param or on the replay command line.

A param is untrusted input: without a limit, anyone who may trigger a DAG could publish replayed
rows into the dead-letter topic, drain (and create retry topics for) any topic of the cluster, or
write into another team's topics. Each kind of topic has its configured topic (``TOPIC_RAW``,
``TOPIC_DLQ``) plus an allow-list setting of extra ones (``TOPIC_RAW_EXTRA``, ``TOPIC_DLQ_EXTRA``):
comma-separated names, an entry ending in ``*`` matching every name that starts with the rest, and
``none`` for no extra topic at all. The default extras are the ``scratch_raw_*`` / ``scratch_dlq_*``
namespace that tests and trials use (docs/security.md says when to close it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from include import config

# kind -> (setting of the configured topic, setting of its extra allowed topics)
KINDS: dict[str, tuple[str, str]] = {
    "raw": ("TOPIC_RAW", "TOPIC_RAW_EXTRA"),
    "dlq": ("TOPIC_DLQ", "TOPIC_DLQ_EXTRA"),
}
_KAFKA_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


class TopicNotAllowed(ValueError):
    """A topic outside the allow-list of its kind; the message is one line for the person who asked."""


def allowed_entries(kind: str, cfg: Mapping[str, str] | None = None) -> list[str]:
    """The configured topic of ``kind`` and its extra entries (names, or prefixes ending in ``*``)."""
    cfg = cfg if cfg is not None else config.resolve()
    topic_setting, extra_setting = KINDS[kind]
    extras = [e.strip() for e in cfg[extra_setting].split(",") if e.strip() and e.strip() != "none"]
    for entry in extras:
        if not _KAFKA_NAME.fullmatch(entry.removesuffix("*")):
            raise ValueError(f"setting {extra_setting}: {entry!r} is neither a topic name nor a prefix*")
    return [cfg[topic_setting], *extras]


def is_allowed(kind: str, topic: str, cfg: Mapping[str, str] | None = None) -> bool:
    return any(
        topic.startswith(e[:-1]) if e.endswith("*") else topic == e for e in allowed_entries(kind, cfg)
    )


def check(kind: str, topic: str, cfg: Mapping[str, str] | None = None) -> str:
    """``topic`` when it is allowed as a ``kind`` topic; else :class:`TopicNotAllowed`."""
    if not is_allowed(kind, topic, cfg):
        entries = allowed_entries(kind, cfg)
        raise TopicNotAllowed(
            f"topic {topic!r} is not an allowed {kind} topic: allowed are {', '.join(entries)} "
            f"(settings {' and '.join(KINDS[kind])})"
        )
    return topic


def refusal(cfg: Mapping[str, str] | None = None, **topics: str | None) -> str | None:
    """Why one of ``topics`` (kind=name; None = the configured one) is refused, or None if all are allowed."""
    for kind, topic in topics.items():
        if topic is not None:
            try:
                check(kind, topic, cfg)
            except TopicNotAllowed as exc:
                return str(exc)
    return None


def param_pattern(kind: str, cfg: Mapping[str, str] | None = None) -> str:
    """A JSON Schema pattern for a Trigger form field: the allowed topics of ``kind``, or empty.

    Written for both Python and the browser's ECMAScript regexes: only ``.`` needs escaping among
    Kafka's name characters, and ``\\-`` would be an error in the form's unicode-mode regexes.
    """

    def alternative(entry: str) -> str:
        if entry.endswith("*"):
            return entry[:-1].replace(".", r"\.") + "[A-Za-z0-9._-]*"
        return entry.replace(".", r"\.")

    return "^(" + "|".join(["", *map(alternative, allowed_entries(kind, cfg))]) + ")$"
