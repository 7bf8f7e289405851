"""Exponential backoff of the DLQ retry: retry ``n`` (1-based) waits ``min(base * 2^(n-1), cap)``.

The wait counts from when the dead letter reached the topic it is read from (its Kafka timestamp):
the DLQ for retry 1, the retry topic of level ``n-1`` for retry ``n``. No jitter: one scheduled
consumer retries, so there is no thundering herd to spread, and a deterministic schedule is testable.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackoffPolicy:
    """:param base_s: wait before retry 1. :param cap_s: longest wait. :param max_attempts: retries in all."""

    base_s: float = 60.0
    cap_s: float = 3600.0
    max_attempts: int = 3

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.cap_s < 0:
            raise ValueError(f"backoff base and cap must be >= 0, got {self.base_s} and {self.cap_s}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")

    @classmethod
    def from_config(cls, cfg: dict[str, str]) -> BackoffPolicy:
        return cls(
            base_s=float(cfg["DLQ_RETRY_BACKOFF_BASE_S"]),
            cap_s=float(cfg["DLQ_RETRY_BACKOFF_CAP_S"]),
            max_attempts=int(cfg["DLQ_RETRY_MAX_ATTEMPTS"]),
        )

    def delay_s(self, attempt: int) -> float:
        """Seconds retry ``attempt`` (1-based) waits after the previous failure."""
        if attempt < 1:
            raise ValueError(f"attempt is 1-based, got {attempt}")
        # 2 ** 62 already exceeds any sane cap; avoid overflow for absurd attempt numbers.
        return min(self.base_s * 2.0 ** min(attempt - 1, 62), self.cap_s)

    def due_ms(self, attempt: int, failed_at_ms: int) -> int:
        """Epoch ms from which retry ``attempt`` may run, for a failure at ``failed_at_ms``."""
        return failed_at_ms + int(self.delay_s(attempt) * 1000)

    def is_due(self, attempt: int, failed_at_ms: int, now_ms: int) -> bool:
        return now_ms >= self.due_ms(attempt, failed_at_ms)

    def is_last(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
