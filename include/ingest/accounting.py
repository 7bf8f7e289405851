"""What happened to every row of a replay: counters kept by each sender, and the final report.

The invariant (docs/design.md "Dead-letter contract"):
``rows_read == published + dead_lettered + failed``. ``published`` and ``dead_lettered`` count
*acknowledged* deliveries (acks=all), never mere produce() calls, so a row is only counted once the
broker has it. A replay succeeds when the invariant holds and ``failed == 0``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

# Delivery latency buckets (seconds): ms on a healthy local broker, minutes through a broker outage.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip


@dataclass(slots=True)
class Counters:
    """One sender's running totals; plain data so worker processes can send snapshots to the parent."""

    handled: int = 0
    published: int = 0
    dead_lettered: int = 0
    failed: int = 0
    bytes_published: int = 0
    by_error_type: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    latency_buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0
    fast_rows: int = 0
    reference_rows: int = 0

    def observe_latency(self, seconds: float) -> None:
        self.latency_buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds

    def note_failure(self, reason: str) -> None:
        self.failed += 1
        self.failures[reason] = self.failures.get(reason, 0) + 1

    def copy(self) -> Counters:
        return Counters(
            self.handled,
            self.published,
            self.dead_lettered,
            self.failed,
            self.bytes_published,
            dict(self.by_error_type),
            dict(self.failures),
            list(self.latency_buckets),
            self.latency_sum,
            self.fast_rows,
            self.reference_rows,
        )

    @staticmethod
    def total(parts: list[Counters]) -> Counters:
        out = Counters()
        by_type: Counter[str] = Counter()
        failures: Counter[str] = Counter()
        for c in parts:
            out.handled += c.handled
            out.published += c.published
            out.dead_lettered += c.dead_lettered
            out.failed += c.failed
            out.bytes_published += c.bytes_published
            by_type.update(c.by_error_type)
            failures.update(c.failures)
            out.latency_buckets = [a + b for a, b in zip(out.latency_buckets, c.latency_buckets, strict=True)]
            out.latency_sum += c.latency_sum
            out.fast_rows += c.fast_rows
            out.reference_rows += c.reference_rows
        out.by_error_type, out.failures = dict(by_type), dict(failures)
        return out


@dataclass
class AccountingReport:
    """The end of every replay: where each row went. ``ok`` is what the CLI exit code and the DAG use."""

    replay_id: str
    file: str
    topic: str
    dlq_topic: str
    schema_id: int
    pace: str
    workers: int
    hour_from: str | None
    hour_to: str | None
    rows_read: int
    published: int
    dead_lettered: int
    failed: int
    by_error_type: dict[str, int]
    failures: dict[str, int]
    bytes_published: int
    elapsed_s: float
    fast_path_rows: int = 0

    @property
    def unaccounted(self) -> int:
        return self.rows_read - self.published - self.dead_lettered - self.failed

    @property
    def ok(self) -> bool:
        return self.unaccounted == 0 and self.failed == 0

    @property
    def rows_per_s(self) -> float:
        return self.rows_read / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "unaccounted": self.unaccounted, "ok": self.ok, "rows_per_s": self.rows_per_s}

    def render(self) -> str:
        """Human-readable lines for the CLI and task logs."""
        kinds = ", ".join(f"{k}={v}" for k, v in sorted(self.by_error_type.items())) or "none"
        lines = [
            f"replay {self.replay_id}: {self.file} hours {self.hour_from or 'first'}..{self.hour_to or 'last'}"
            f" -> {self.topic} (schema id {self.schema_id}, pace {self.pace}, {self.workers} worker(s))",
            f"  rows read      {self.rows_read:>12,}",
            f"  published      {self.published:>12,}  ({self.bytes_published / 1e6:,.1f} MB)",
            f"  dead-lettered  {self.dead_lettered:>12,}  -> {self.dlq_topic} (by error_type: {kinds})",
            f"  failed         {self.failed:>12,}",
            f"  unaccounted    {self.unaccounted:>12,}",
            f"  elapsed        {self.elapsed_s:>12.2f} s  ({self.rows_per_s:,.0f} rows/s)",
        ]
        if self.failures:
            lines.append("  failures: " + "; ".join(f"{k} x{v}" for k, v in self.failures.items()))
        verdict = (
            "OK: every row is in the topic or the DLQ"
            if self.ok
            else "FAILED: rows were lost or unaccounted for"
        )
        lines.append(f"  {verdict}")
        return "\n".join(lines)
