"""The full bytes of over-long dead letters under DLQ_PAYLOAD_DIR: removed once they are not needed.

The replay keeps a line too long for a Kafka record in ``DLQ_PAYLOAD_DIR/<sha256>`` and dead-letters
its prefix with ``raw_ref`` (length, SHA-256). Nothing else would ever delete those files, and hostile
input can make many of them, so the DLQ retry removes a file once its dead letter is settled
(republished or stored for good; after the Kafka transaction that settles it has committed), and
``dag_dlq_retry`` prunes files older than ``DLQ_PAYLOAD_RETENTION_DAYS`` (left behind by letters the
retry never reached, or identical lines that shared a file).

Only names of the form ``<64 hex digits>`` directly in the directory are ever removed: a dead letter's
``raw_ref`` comes from a record anyone who can write to the DLQ may have written, so its ``path`` is
never trusted.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from pathlib import Path

_SHA256 = re.compile(r"[0-9a-f]{64}")
_DAY_S = 86400


def payload_digest(value: bytes | None) -> str | None:
    """The SHA-256 named by a dead letter's ``raw_ref``, or None when it has no kept payload."""
    if not value or b'"raw_ref"' not in value:
        return None
    try:
        ref = json.loads(value).get("raw_ref")
    except (ValueError, AttributeError):
        return None
    digest = ref.get("sha256") if isinstance(ref, dict) else None
    return digest if isinstance(digest, str) and _SHA256.fullmatch(digest) else None


def remove(payload_dir: Path, digests: Iterable[str]) -> int:
    """Removes the kept payloads of these (validated) digests; returns how many files went."""
    removed = 0
    for digest in set(digests):
        if not _SHA256.fullmatch(digest):
            continue
        try:
            (payload_dir / digest).unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def prune(payload_dir: Path, retention_days: float, now: float | None = None) -> int:
    """Removes kept payloads last written more than ``retention_days`` ago (0 keeps them all)."""
    if retention_days <= 0 or not payload_dir.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - retention_days * _DAY_S
    removed = 0
    for path in payload_dir.iterdir():
        ours = _SHA256.fullmatch(path.name) or path.name.startswith(".partial-")
        if ours and path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
