"""Where the senders run: worker processes (:class:`SenderPool`) or this process.

Why processes: encoding is CPU-bound Python (the GIL), so ``workers`` sender processes share the
work. Each is a fresh interpreter (:mod:`include.ingest.sender_process`) fed through a socket pair,
never a fork of the caller: a caller holding a live librdkafka client (an Airflow worker, a test
session, a bench) would hand a forked child that client's locked mutexes, and the child could hang
for good before sending a row; multiprocessing's spawn and forkserver would import the caller's
``__main__`` (the ``airflow`` command, say) in every child.

With a pace other than ``asap`` one in-process sender (:class:`InProcessSender`) is plenty and
keeps rows in global file order for the pacer. Both offer the same four calls to the replay loop:
``send``, ``totals``, ``finish`` and ``errors``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from include.ingest.accounting import Counters
from include.ingest.avazu_reader import overlong_mark
from include.ingest.blocks import Block
from include.ingest.sender import Sender
from include.ingest.sender_process import STATS_INTERVAL_S, SenderSetup

log = logging.getLogger(__name__)

QUEUE_BLOCKS = 64
_PROJECT_ROOT = Path(__file__).resolve().parents[2]
__all__ = ["STATS_INTERVAL_S", "InProcessSender", "SenderPool", "default_workers"]


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


class _Worker:
    """One sender process and the two threads that move blocks to it and its snapshots back."""

    def __init__(self, setup: SenderSetup, outbox: queue.Queue) -> None:
        ours, theirs = socket.socketpair()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(_PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "include.ingest.sender_process", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env=env,
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        self.inbox: queue.Queue[Block | None] = queue.Queue(maxsize=QUEUE_BLOCKS)
        self.conn.send(setup)
        name = f"avazu-replay-sender-{setup.wid}"
        threading.Thread(target=self._feed, name=f"{name}-feed", daemon=True).start()
        self.reader = threading.Thread(target=self._read, args=(outbox,), name=f"{name}-read", daemon=True)
        self.reader.start()

    def _feed(self) -> None:
        try:
            while True:
                block = self.inbox.get()
                self.conn.send(block)
                if block is None:
                    return
        except OSError:
            return  # the process died: SenderPool notices by its exit code

    def _read(self, outbox: queue.Queue) -> None:
        try:
            while True:
                outbox.put(self.conn.recv())
        except (EOFError, OSError):
            return

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        """Waits for the process to end (killed after 10 s) and for its last messages to be read."""
        with contextlib.suppress(queue.Full):
            self.inbox.put_nowait(None)  # wakes the feeder of a process that died before its None
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=10)
        self.conn.close()


class SenderPool:
    """Sender processes and their latest counter snapshots."""

    def __init__(
        self, count: int, sender_args: tuple[Any, ...], flush_timeout_s: float, partitions: int
    ) -> None:
        self.outbox: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.snapshots: list[Counters] = [Counters() for _ in range(count)]
        self.finished: set[int] = set()
        self.errors: dict[int, str] = {}
        level = logging.getLogger().getEffectiveLevel()
        self.workers = [
            _Worker(
                SenderSetup(
                    w,
                    sender_args,
                    flush_timeout_s,
                    tuple(p for p in range(partitions) if p % count == w),
                    overlong_mark(),
                    level,
                ),
                self.outbox,
            )
            for w in range(count)
        ]

    def send(self, wid: int, block: Block, on_wait: Callable[[], None]) -> None:
        self._put(wid, block, on_wait)
        self._drain()

    def totals(self) -> Counters:
        return Counters.total(self.snapshots)

    def finish(self, on_wait: Callable[[], None]) -> None:
        """Tells every sender to flush and stop, and waits for their last counters."""
        for w in range(len(self.workers)):
            self._put(w, None, on_wait)
        while len(self.finished) < len(self.workers):
            self._drain(timeout=0.2)
            self._check_alive()
            on_wait()
        for worker in self.workers:
            worker.stop()

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
        for w, worker in enumerate(self.workers):
            if w not in self.finished and not worker.alive():
                worker.stop()  # its last messages are read before the socket closes
                self._drain()
                if w not in self.finished:
                    self.errors[w] = f"sender process exited with code {worker.proc.returncode}"
                    self.finished.add(w)

    def _put(self, wid: int, block: Block | None, on_wait: Callable[[], None]) -> None:
        while True:
            if wid in self.finished:
                return  # a dead sender: its rows stay unaccounted and fail the replay
            try:
                self.workers[wid].inbox.put(block, timeout=0.2)
                return
            except queue.Full:
                self._drain()
                self._check_alive()
                on_wait()
