"""The retry topics, and the headers that carry a dead letter's retry state (docs/dlq.md).

``T`` is the DLQ topic (level 0). ``T_retry_k`` (level k, 1 <= k < max attempts) holds the dead
letters whose attempt k failed: the value is the original DLQ record's bytes, unchanged; the state
is in headers, ``dlq-origin`` (``topic:partition:offset`` of the dead letter in ``T``: its identity
for good), ``dlq-attempts`` (k), ``dlq-last-error-type``, ``dlq-last-error``. A republished event
carries ``dlq-origin``, ``dlq-attempt`` and ``dlq-repairs``.
"""

from __future__ import annotations

HDR_ORIGIN = "dlq-origin"
HDR_ATTEMPTS = "dlq-attempts"
HDR_ATTEMPT = "dlq-attempt"
HDR_LAST_ERROR_TYPE = "dlq-last-error-type"
HDR_LAST_ERROR = "dlq-last-error"
HDR_REPAIRS = "dlq-repairs"
OWN_HEADERS = frozenset(
    {HDR_ORIGIN, HDR_ATTEMPTS, HDR_ATTEMPT, HDR_LAST_ERROR_TYPE, HDR_LAST_ERROR, HDR_REPAIRS}
)
_MAX_HEADER = 500  # characters of a free-text header (an error message can be a whole stack trace)

Origin = tuple[str, int, int]  # (topic, partition, offset) of a dead letter in the DLQ topic


def retry_topic(dlq_topic: str, level: int) -> str:
    """The topic of dead letters whose attempt ``level`` failed."""
    return f"{dlq_topic}_retry_{level}"


def topic_levels(dlq_topic: str, max_attempts: int) -> dict[str, int]:
    """Every topic the retry reads, with its level: the DLQ (0) and ``max_attempts - 1`` retry topics."""
    return {dlq_topic: 0, **{retry_topic(dlq_topic, k): k for k in range(1, max_attempts)}}


def format_origin(origin: Origin) -> str:
    return f"{origin[0]}:{origin[1]}:{origin[2]}"


def parse_origin(value: bytes | None) -> Origin | None:
    """``topic:partition:offset`` of a ``dlq-origin`` header (None when absent or malformed)."""
    topic, _, rest = header_text(value).rpartition(":")
    topic, _, part = topic.rpartition(":")
    if not topic or not part.isdigit() or not rest.isdigit():
        return None
    return topic, int(part), int(rest)


def header_text(value: bytes | None) -> str:
    return value.decode("utf-8", errors="replace") if value else ""


def clipped(text: str) -> bytes:
    """A free-text header value, cut to a size any broker accepts."""
    return text[:_MAX_HEADER].encode("utf-8", errors="replace")
