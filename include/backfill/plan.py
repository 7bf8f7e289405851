"""Stream or backfill: a pure decision from the requested hours and the live job's watermark.

The live job dead-letters an event as ``late_event`` when its event time is at or before the
watermark, so an hour is *behind* the stream when its last millisecond is, and *ahead* when its
first millisecond is after it. Hours behind go through the backfill, hours ahead stream as before.
The hour that holds the watermark is refused: part of it is final in the live windows and part is
still to come, and neither path alone gets it right.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from include.ingest.event_time import HOUR_MS, hour_start_ms

MODES = ("auto", "stream", "backfill")


class PlanError(ValueError):
    """The request cannot be served as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Plan:
    """Which hours stream and which backfill (inclusive ``(first, last)`` YYMMDDHH, or None)."""

    stream: tuple[str, str] | None
    backfill: tuple[str, str] | None
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "stream": list(self.stream) if self.stream else None,
            "backfill": list(self.backfill) if self.backfill else None,
            "reason": self.reason,
        }


def hour_of_ms(ms: int) -> str:
    """``YYMMDDHH`` of the UTC hour holding epoch millisecond ``ms``."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%y%m%d%H")


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def choose(
    first_hour: str,
    last_hour: str,
    watermark_ms: int | None,
    mode: str = "auto",
    late_events_intended: bool = False,
) -> Plan:
    """The plan for hours ``first_hour..last_hour`` given the live job's ``watermark_ms``.

    :param mode: ``auto`` (default): by the watermark; ``stream`` or ``backfill`` force one path.
    :param late_events_intended: streaming hours behind the watermark is what the user wants (their
        events go to the DLQ as ``late_event``); otherwise such a request is refused.
    :raises PlanError: the hour holding the watermark is asked for in ``auto`` mode, or hours
        behind the stream are forced to stream without ``late_events_intended``.
    """
    if mode not in MODES:
        raise PlanError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    start, end = hour_start_ms(first_hour), hour_start_ms(last_hour) + HOUR_MS
    whole = (first_hour, last_hour)
    if mode == "backfill":
        return Plan(None, whole, "backfill forced by the mode param")
    if watermark_ms is None:
        return Plan(whole, None, "no live job watermark: every hour streams")
    mark = _stamp(watermark_ms)
    all_behind = watermark_ms >= end - 1
    any_behind = watermark_ms >= start
    if mode == "stream" or late_events_intended:
        if any_behind and not late_events_intended:
            raise PlanError(
                f"the live job's watermark is at {mark}: hours {first_hour}..{last_hour} reach behind it and "
                "streaming them would only dead-letter them as late_event. Use mode=auto (backfill), or "
                "tick late_events_intended if that is what you want."
            )
        why = "late events intended" if late_events_intended else "stream forced by the mode param"
        return Plan(whole, None, why)
    if not any_behind:
        return Plan(whole, None, f"every hour is ahead of the live job's watermark ({mark}): streamed")
    if all_behind:
        return Plan(None, whole, f"every hour is behind the live job's watermark ({mark}): backfilled")
    wm_hour_start = watermark_ms // HOUR_MS * HOUR_MS
    if watermark_ms < wm_hour_start + HOUR_MS - 1:  # the watermark is inside an hour of the range
        raise PlanError(
            f"hour {hour_of_ms(watermark_ms)} is in progress in the live stream (watermark at {mark}): "
            "part of its windows are final and part still open. Replay the hours before it (backfill) "
            "and after it (stream) separately, or wait until the watermark has passed its end."
        )
    behind_last = hour_of_ms(watermark_ms)
    ahead_first = hour_of_ms(watermark_ms + 1)
    return Plan(
        (ahead_first, last_hour),
        (first_hour, behind_last),
        f"live job's watermark at {mark}: hours up to {behind_last} backfilled, the rest streamed",
    )
