"""Which partition a keyed record goes to: ``crc32(key) % partitions``.

That is librdkafka's default partitioner (``consistent_random``) for a record with a key. The replay
routes rows with it before producing (each partition is owned by one sender process), and the DLQ
retry republishes with it, so a re-published event lands in the partition its first copy went to.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np


def partition_of(key: bytes, partitions: int) -> int:
    return zlib.crc32(key) % partitions


def partitions_of(keys: Iterable[bytes], count: int, partitions: int) -> np.ndarray:
    """:func:`partition_of` for ``count`` keys at once, as uint8 (a topic here has < 256 partitions)."""
    crcs = np.fromiter(map(zlib.crc32, keys), dtype=np.uint32, count=count)
    return (crcs % partitions).astype(np.uint8)
