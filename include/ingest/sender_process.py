"""A sender process: ``python -m include.ingest.sender_process FD``, started by
:class:`~include.ingest.sender_pool.SenderPool` with one end of a socket pair as FD.

It reads its setup, then blocks, from the socket and answers with counter snapshots: ``("stats",
wid, counters)`` now and then, ``("done", wid, counters)`` after the final flush, or ``("error",
wid, message, counters)``. A closed socket (the replay died) ends it too: no sender outlives its replay.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from include.ingest.accounting import Counters
from include.ingest.avazu_reader import use_overlong_mark
from include.ingest.sender import Sender

STATS_INTERVAL_S = 0.5


@dataclass(frozen=True)
class SenderSetup:
    """Everything a sender process is told before its first block."""

    wid: int
    sender_args: tuple[Any, ...]
    flush_timeout_s: float
    owned_partitions: tuple[int, ...]
    overlong_mark: bytes  # the reading process's (include/ingest/avazu_reader.py)
    log_level: int


def serve(conn: Connection) -> None:
    """Blocks in, counter snapshots out, until a None block (flush and report) or a closed socket."""
    setup: SenderSetup = conn.recv()
    logging.basicConfig(
        level=setup.log_level,
        format=f"%(asctime)s %(levelname)s sender {setup.wid}: %(message)s",
        stream=sys.stderr,
    )
    use_overlong_mark(setup.overlong_mark)
    wid, sender = setup.wid, None
    try:
        sender = Sender(*setup.sender_args)
        sender.owned_partitions = set(setup.owned_partitions)
        last = time.monotonic()
        while (block := conn.recv()) is not None:
            sender.handle(block)
            if time.monotonic() - last >= STATS_INTERVAL_S:
                conn.send(("stats", wid, sender.counters.copy()))
                last = time.monotonic()
        remaining = sender.close(setup.flush_timeout_s)
        if remaining:
            message = f"{remaining} record(s) still unacknowledged after the flush timeout"
            conn.send(("error", wid, message, sender.counters.copy()))
        else:
            conn.send(("done", wid, sender.counters.copy()))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the replay is gone: nobody is left to account to
    except BaseException as exc:  # report, never die silently: the parent turns it into unaccounted rows
        counters = sender.counters.copy() if sender is not None else Counters()
        conn.send(("error", wid, f"{type(exc).__name__}: {exc}", counters))


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1])))
