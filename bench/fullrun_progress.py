"""One live progress line on stderr: stage, rows done, rate, ETA.

On a terminal the line is redrawn in place (``\\r``) every second; otherwise (CI logs, a pipe) a
plain line is written every ~10 s, so a log of an hour-long run stays readable. Log lines go
through :meth:`Progress.log`, which clears the live line first.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    def __init__(self, stream: TextIO | None = None, plain_every_s: float = 10.0) -> None:
        self.stream = stream or sys.stderr  # looked up now: tests and wrappers replace sys.stderr
        self.tty = self.stream.isatty()
        self.plain_every_s = plain_every_s
        self._lock = threading.Lock()
        self._stage = ""
        self._done = 0
        self._total: int | None = None
        self._note = ""
        self._unit = "rows"
        self._started = time.monotonic()
        self._drawn = False
        self._last_plain = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._thread.start()

    def stage(
        self, name: str, total: int | None = None, unit: str = "rows", started: float | None = None
    ) -> None:
        """A new stage; ``started`` (a time.monotonic value) when its clock started earlier."""
        with self._lock:
            self._stage, self._total, self._done, self._note, self._unit = name, total, 0, "", unit
            self._started = time.monotonic() if started is None else started
            self._last_plain = 0.0

    def update(self, done: int | None = None, note: str | None = None, total: int | None = None) -> None:
        with self._lock:
            if done is not None:
                self._done = done
            if note is not None:
                self._note = note
            if total is not None:
                self._total = total

    def line(self) -> str:
        with self._lock:
            elapsed = time.monotonic() - self._started
            rate = self._done / elapsed if elapsed > 0 else 0.0
            parts = [f"[{self._stage}] {_duration(elapsed)}"]
            if self._done or self._total:
                parts.append(
                    f"{self._done:,}" + (f"/{self._total:,}" if self._total else "") + f" {self._unit}"
                )
                if self._unit == "rows":
                    parts.append(f"{rate:,.0f} rows/s")
                if self._total and rate > 0 and self._done < self._total:
                    parts.append(f"ETA {_duration((self._total - self._done) / rate)}")
            if self._note:
                parts.append(self._note)
            return "  ".join(parts)

    def log(self, message: str) -> None:
        with self._lock:
            if self._drawn:
                self.stream.write("\r\033[K")
                self._drawn = False
            self.stream.write(message + "\n")
            self.stream.flush()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            if not self._stage:
                continue
            text = self.line()
            now = time.monotonic()
            with self._lock:
                if self.tty:
                    self.stream.write("\r\033[K" + text[:200])
                    self._drawn = True
                elif now - self._last_plain >= self.plain_every_s:
                    self.stream.write(text + "\n")
                    self._last_plain = now
                self.stream.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            if self._drawn:
                self.stream.write("\r\033[K")
                self.stream.flush()
                self._drawn = False
