"""What one drain run did: counts, depth, examples, and its one Slack message."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from include.dlq.decision import Decision, GiveUp, Republish, Requeue
from include.dlq.retry_topics import format_origin

_EXAMPLES = 5


@dataclass
class GaveUp:
    """A dead letter stored as permanent by this run (for the Slack summary)."""

    origin: str
    event_id: str | None
    error_type: str
    final_error_type: str
    message: str
    reason: str
    attempts: int


@dataclass
class DrainReport:
    run_id: str
    dlq_topic: str
    raw_topic: str
    group_id: str
    read: int = 0
    retried: int = 0  # retry attempts made (repair + validation)
    republished: int = 0  # attempts that succeeded: the event is in the raw topic
    repaired: int = 0  # republished events that needed at least one repair rule
    requeued: int = 0  # failed attempts waiting for the next one
    permanent: int = 0  # stored in errors.dlq_errors by this run
    permanent_by_type: dict[str, int] = field(default_factory=dict)
    waiting_partitions: list[str] = field(default_factory=list)  # stopped at a record not yet due
    depth: dict[str, int] = field(default_factory=dict)  # records left per input topic after the run
    batches: int = 0
    examples: list[GaveUp] = field(default_factory=list)
    elapsed_s: float = 0.0
    timed_out: bool = False

    def count(self, decision: Decision) -> None:
        """Adds one handled dead letter (a record that was due, whatever became of it)."""
        self.read += 1
        if isinstance(decision, Republish):
            self.retried += 1
            self.republished += 1
            self.repaired += decision.repaired
        elif isinstance(decision, Requeue):
            self.retried += 1
            self.requeued += 1
        elif isinstance(decision, GiveUp):
            self.retried += decision.attempted
            self._gave_up(decision)

    def _gave_up(self, decision: GiveUp) -> None:
        row = decision.permanent
        self.permanent += 1
        self.permanent_by_type[row.error_type] = self.permanent_by_type.get(row.error_type, 0) + 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append(
                GaveUp(format_origin(row.origin), row.event_id, row.error_type, row.final_error_type,
                       row.final_error_message, row.reason, row.retry_count)
            )  # fmt: skip

    @property
    def total_depth(self) -> int:
        return sum(self.depth.values())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["total_depth"] = self.total_depth
        return out

    def summary(self) -> str:
        return (
            f"DLQ retry {self.run_id}: read {self.read}, retried {self.retried}, republished "
            f"{self.republished} (repaired {self.repaired}), re-enqueued {self.requeued}, permanent "
            f"{self.permanent}, depth {self.total_depth}"
        )

    def slack_text(self) -> str | None:
        """The run's one Slack message, or None when nothing failed permanently."""
        if not self.permanent:
            return None
        types = ", ".join(f"{t} {n}" for t, n in sorted(self.permanent_by_type.items(), key=lambda x: -x[1]))
        lines = [
            f":rotating_light: DLQ retry: {self.permanent} dead letter(s) from {self.dlq_topic} failed "
            f"permanently and are in errors.dlq_errors",
            f"run: {self.run_id}  by error type: {types}",
            f"this run: read {self.read}, retried {self.retried}, republished {self.republished} "
            f"(repaired {self.repaired}) to {self.raw_topic}, waiting for a retry {self.requeued}, "
            f"DLQ depth {self.total_depth}",
            "examples:",
        ]
        for ex in self.examples:
            lines.append(
                f"  - {ex.origin} event {ex.event_id or '?'}: {ex.final_error_type}: {ex.message[:160]} "
                f"({ex.reason}, {ex.attempts} attempt(s))"
            )
        lines.append(
            "query: SELECT * FROM errors.dlq_errors ORDER BY failed_at DESC; runbook: docs/dlq.md#operations"
        )
        return "\n".join(lines)
