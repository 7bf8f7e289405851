"""Where the senders run: forked worker processes (:class:`SenderPool`) or this process.

Why processes: encoding is CPU-bound Python (the GIL), so ``workers`` sender processes share the
work. With a pace other than ``asap`` one in-process sender (:class:`InProcessSender`) is plenty and
keeps rows in global file order for the pacer. Both offer the same four calls to the replay loop:
``send``, ``totals``, ``finish`` and ``errors``.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import time
from collections.abc import Callable
from typing import Any

from include.ingest.accounting import Counters
from include.ingest.blocks import Block
from include.ingest.sender import Sender

log = logging.getLogger(__name__)

QUEUE_BLOCKS = 64
STATS_INTERVAL_S = 0.5


def default_workers(partitions: int) -> int:
    """One sender per partition, at most 4: each owns whole partitions, so the load is balanced only
    when every sender owns the same number of them (3 partitions: 3 senders, even on 2 cores)."""
    return max(1, min(partitions, 4))


class InProcessSender:
    """The replay's only sender, in this process: it owns every partition."""

    def __init__(self, sender_args: tuple[Any, ...], flush_timeout_s: float, partitions: int) -> None:
        self.sender = Sender(*sender_args)
        self.sender.owned_partitions = set(range(partitions))
        self.flush_timeout_s = flush_timeout_s
        self.errors: dict[int, str] = {}

    def send(self, _wid: int, block: Block, _on_wait: Callable[[], None]) -> None:
        self.sender.handle(block)

    def totals(self) -> Counters:
        return self.sender.counters.copy()

    def finish(self, _on_wait: Callable[[], None]) -> None:
        remaining = self.sender.close(self.flush_timeout_s)
        if remaining:
            log.error("%d record(s) still unacknowledged after %.0f s", remaining, self.flush_timeout_s)


class SenderPool:
    """Sender processes and their latest counter snapshots."""

    def __init__(
        self, count: int, sender_args: tuple[Any, ...], flush_timeout_s: float, partitions: int
    ) -> None:
        ctx = mp.get_context("fork")  # fast start; no librdkafka instance exists in the parent here
        self.outbox: mp.Queue = ctx.Queue()
        self.inboxes: list[mp.Queue] = [ctx.Queue(maxsize=QUEUE_BLOCKS) for _ in range(count)]
        self.snapshots: list[Counters] = [Counters() for _ in range(count)]
        self.finished: set[int] = set()
        self.errors: dict[int, str] = {}
        self.procs = [
            ctx.Process(
                target=_sender_process,
                args=(
                    w,
                    sender_args,
                    self.inboxes[w],
                    self.outbox,
                    flush_timeout_s,
                    tuple(p for p in range(partitions) if p % count == w),
                ),
                name=f"avazu-replay-sender-{w}",
                daemon=True,
            )
            for w in range(count)
        ]
        for proc in self.procs:
            proc.start()

    def send(self, wid: int, block: Block, on_wait: Callable[[], None]) -> None:
        self._put(wid, block, on_wait)
        self._drain()

    def totals(self) -> Counters:
        return Counters.total(self.snapshots)

    def finish(self, on_wait: Callable[[], None]) -> None:
        """Tells every sender to flush and stop, and waits for their last counters."""
        for w in range(len(self.procs)):
            self._put(w, None, on_wait)
        while len(self.finished) < len(self.procs):
            self._drain(timeout=0.2)
            self._check_alive()
            on_wait()
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()

    def _drain(self, timeout: float = 0.0) -> None:
        """Read every pending message from the senders (waiting up to ``timeout`` for the first)."""
        block = timeout > 0
        while True:
            try:
                kind, wid, *rest = self.outbox.get(block, timeout) if block else self.outbox.get_nowait()
            except queue.Empty:
                return
            block = False
            if kind == "stats":
                self.snapshots[wid] = rest[0]
            elif kind == "done":
                self.snapshots[wid] = rest[0]
                self.finished.add(wid)
            else:
                self.errors[wid] = rest[0]
                self.snapshots[wid] = rest[1]
                self.finished.add(wid)

    def _check_alive(self) -> None:
        for w, proc in enumerate(self.procs):
            if w not in self.finished and not proc.is_alive():
                self._drain()
                if w not in self.finished:
                    self.errors[w] = f"sender process exited with code {proc.exitcode}"
                    self.finished.add(w)

    def _put(self, wid: int, block: Block | None, on_wait: Callable[[], None]) -> None:
        while True:
            if wid in self.finished:
                return  # a dead sender: its rows stay unaccounted and fail the replay
            try:
                self.inboxes[wid].put(block, timeout=0.2)
                return
            except queue.Full:
                self._drain()
                self._check_alive()
                on_wait()


def _sender_process(
    wid: int,
    sender_args: tuple[Any, ...],
    inbox: mp.Queue,
    outbox: mp.Queue,
    flush_timeout_s: float,
    owned: tuple[int, ...],
) -> None:
    """A sender process: blocks in, counter snapshots out; ends on None with a flush."""
    sender: Sender | None = None
    try:
        sender = Sender(*sender_args)
        sender.owned_partitions = set(owned)
        last = time.monotonic()
        while (block := inbox.get()) is not None:
            sender.handle(block)
            if time.monotonic() - last >= STATS_INTERVAL_S:
                outbox.put(("stats", wid, sender.counters.copy()))
                last = time.monotonic()
        remaining = sender.close(flush_timeout_s)
        if remaining:
            outbox.put(
                (
                    "error",
                    wid,
                    f"{remaining} record(s) still unacknowledged after the flush timeout",
                    sender.counters.copy(),
                )
            )
        else:
            outbox.put(("done", wid, sender.counters.copy()))
    except BaseException as exc:  # report, never die silently: the parent turns it into unaccounted rows
        counters = sender.counters.copy() if sender is not None else Counters()
        outbox.put(("error", wid, f"{type(exc).__name__}: {exc}", counters))
