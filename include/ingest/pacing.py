"""Replay pacing: as fast as possible, a speed factor over event time, or live (re-based to now).

Pure arithmetic on two clocks, so it is unit-tested without sleeping: ``first_event_ms`` (the start of
the first replayed hour, which is the first row's replay event time) and the monotonic wall clock at
the start of the replay.

- ``asap``: no waiting; event times are published as computed (backfill).
- ``speed:F``: a row is due ``(event_time - first_event_ms) / F`` after the start; event times are
  unchanged, so keys and values are identical to an ``asap`` replay (60 = one Avazu hour per minute).
- ``live``: speed 1, and every event time is shifted by ``now - first_event_ms`` so the first event
  happens "now" and the deltas between events are kept; the shifted time is what gets published
  (dashboards show "now"). Values therefore differ from run to run, by design.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PaceMode = Literal["asap", "speed", "live"]
_SPEED = re.compile(r"speed[:=]([0-9]*\.?[0-9]+)")


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast to replay. Build it with :meth:`parse` from ``asap``, ``speed:60`` or ``live``."""

    mode: PaceMode = "asap"
    speed: float = 1.0

    @classmethod
    def parse(cls, text: str) -> Pace:
        """``asap`` | ``speed:F`` (or ``speed=F``, F > 0) | ``live``; raises ValueError on anything else."""
        value = text.strip().lower()
        if value in ("asap", "live"):
            return cls(value)  # type: ignore[arg-type]
        match = _SPEED.fullmatch(value)
        if match is None:
            raise ValueError(f"pace must be asap, speed:<factor> (e.g. speed:60) or live, got {text!r}")
        factor = float(match.group(1))
        if factor <= 0:
            raise ValueError(f"speed factor must be > 0, got {text!r}")
        return cls("speed", factor)

    @property
    def paced(self) -> bool:
        return self.mode != "asap"

    def __str__(self) -> str:
        return f"speed:{self.speed:g}" if self.mode == "speed" else self.mode


@dataclass(frozen=True, slots=True)
class Pacer:
    """When each row is due and what time it is published with.

    :param pace: the pace.
    :param first_event_ms: event time of the first replayed row (epoch ms).
    :param start_s: monotonic clock (seconds) at the start of the replay.
    :param now_ms: wall clock (epoch ms) at the start; only ``live`` uses it.
    """

    pace: Pace
    first_event_ms: int
    start_s: float
    now_ms: int

    @property
    def time_offset_ms(self) -> int:
        """Added to every event time before it is validated and published (non-zero only for live)."""
        return self.now_ms - self.first_event_ms if self.pace.mode == "live" else 0

    def due(self, event_time_ms: int) -> float | None:
        """Monotonic time (s) at which the row with this *original* event time may be sent; None = now."""
        if self.pace.mode == "asap":
            return None
        factor = 1.0 if self.pace.mode == "live" else self.pace.speed
        return self.start_s + (event_time_ms - self.first_event_ms) / 1000.0 / factor
