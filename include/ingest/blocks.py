"""The file's lines, cut into blocks for the senders.

Each line goes to the partition of its event id (:mod:`include.kafka.partitioner`, exactly where
librdkafka would put the key, so a later re-publish of the event lands in the same place), and each
partition is owned by exactly one sender (``partition % workers``). A sender gets its blocks in file
order, hence every partition receives its rows in event-time order (Flink's per-partition watermarks
depend on it).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter, methodcaller

import numpy as np

from include.ingest.event_time import HourBatch, hour_start_ms
from include.kafka.partitioner import partitions_of

BLOCK_ROWS = 1024
_FIRST_FIELD = methodcaller("split", b",", 1)
_HEAD = itemgetter(0)


@dataclass(slots=True)
class Block:
    """Lines of one hour bound for one sender, in file order (pickled to worker processes).

    ``positions[k]``: line k's index within its hour of ``hour_rows`` rows (for its event time);
    ``partitions[k]``: its partition.
    """

    payload: bytes
    positions: array
    partitions: bytes
    hour: bytes | None
    hour_start: int | None
    hour_rows: int
    first_line_no: int
    hour_error: str | None = None


def route(batch: HourBatch, partitions: int) -> np.ndarray:
    """Partition of each line of ``batch``, from its first field (the event id)."""
    keys = map(_HEAD, map(_FIRST_FIELD, batch.lines))
    return partitions_of(keys, len(batch.lines), partitions)


def iter_blocks(
    batches: Iterator[HourBatch], partitions: int, workers: int
) -> Iterator[tuple[int, Block, HourBatch]]:
    """``(worker, block, batch)`` in file order per worker; worker w owns partitions p with p % workers == w."""
    for batch in batches:
        lines, n = batch.lines, len(batch.lines)
        hour_error = None
        hour_start = None
        if batch.hour is not None:
            try:
                hour_start = hour_start_ms(batch.hour)
            except ValueError as exc:
                hour_error = str(exc)
        parts = route(batch, partitions)
        common = (batch.hour, hour_start, n, batch.first_line_no, hour_error)
        if workers == 1:
            for k in range(0, n, BLOCK_ROWS):
                chunk = lines[k : k + BLOCK_ROWS]
                positions = array("l", range(k, k + len(chunk)))
                yield (
                    0,
                    Block(b"\n".join(chunk), positions, parts[k : k + BLOCK_ROWS].tobytes(), *common),
                    batch,
                )
            continue
        owners = parts % workers
        for w in range(workers):
            idx = np.flatnonzero(owners == w)
            for k in range(0, len(idx), BLOCK_ROWS):
                chunk = idx[k : k + BLOCK_ROWS]
                payload = b"\n".join([lines[i] for i in chunk.tolist()])
                yield w, Block(payload, array("l", chunk.tolist()), parts[chunk].tobytes(), *common), batch
