"""What one drain run did: counts, depth, examples, and its one Slack message."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from include.dlq.decision import Decision, GiveUp, Republish, Requeue
from include.dlq.retry_topics import format_origin
from include.slack_text import escape, link

log = logging.getLogger(__name__)

_EXAMPLES = 5  # at most one per error type
AIRFLOW_RUN_PREFIX = "airflow-"  # run ids of dag_dlq_retry's drains: airflow-<dag run id>
# Stored for good without a digest: late events are expected while a replay sends hours the stream
# has passed, and never retried; dag_dlq_alert posts once their share of the traffic is too high.
QUIET_TYPES = frozenset({"late_event"})


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
    payloads_removed: int = 0  # kept full payloads (DLQ_PAYLOAD_DIR) of settled dead letters, deleted
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
        if len(self.examples) < _EXAMPLES and all(ex.error_type != row.error_type for ex in self.examples):
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

    def actionable(self) -> dict[str, int]:
        """This run's permanent failures by error type, without the quiet ones (late events), most first."""
        counts = {t: n for t, n in self.permanent_by_type.items() if t not in QUIET_TYPES}
        return dict(sorted(counts.items(), key=lambda x: (-x[1], x[0])))

    def details_url(self) -> str:
        """The run's drain task in the Airflow UI (its log and report), or the DAG for a CLI run."""
        base = f"{airflow_ui_url()}/dags/dag_dlq_retry"
        if self.run_id.startswith(AIRFLOW_RUN_PREFIX):
            return f"{base}/runs/{quote(self.run_id.removeprefix(AIRFLOW_RUN_PREFIX), safe='')}/tasks/drain"
        return base

    def slack_text(
        self, reported: Callable[[DrainReport, Collection[str]], set[str]] | None = None
    ) -> str | None:
        """The run's Slack digest (two lines), or None when there is nothing new to act on.

        Quiet when nothing failed for good, when only late events did (:data:`QUIET_TYPES`), and when
        every error type that did was already stored by another run of the same DLQ within the last
        ``DLQ_ALERT_WINDOW_S``: that run posted it (or an earlier one did), so a steady trickle of one
        kind of failure is one digest, not one every 10 minutes. ``reported(report, types)`` returns
        those types (default :func:`stored_recently`, a query on errors.dlq_errors).
        """
        actionable = self.actionable()
        if not actionable:
            return None
        known = (reported or stored_recently)(self, actionable.keys())
        new = [t for t in actionable if t not in known]
        if not new:
            return None
        total = sum(actionable.values())
        # Error types, messages and topics come from the dead letters themselves: escaped for mrkdwn.
        types = ", ".join(
            f"{escape(t)} {n:,}" + ("" if t in new else " (again)") for t, n in actionable.items()
        )
        quiet = sum(self.permanent_by_type.values()) - total
        also = f" (+{quiet:,} late_event, expected during a replay)" if quiet else ""
        lines = [
            f":rotating_light: DLQ retry: {total:,} dead letter{'s' if total != 1 else ''} from "
            f"{escape(self.dlq_topic)} failed for good: {types}{also} · {link(self.details_url(), 'details')}"
        ]
        example = next((ex for ex in self.examples if ex.error_type in new), None)
        if example is not None:
            lines.append(
                f"e.g. {escape(example.origin)} event {escape(example.event_id or '?')}: "
                f"{escape(example.final_error_type)}: {escape(_one_line(example.message, 120))} "
                f"({escape(example.reason)}) · errors.dlq_errors WHERE run_id = '{escape(self.run_id)}'"
            )
        return "\n".join(lines)


def airflow_ui_url() -> str:
    """The Airflow UI as people reach it (setting AIRFLOW_EXTERNAL_URL)."""
    from include.airflow_links import ui_url
    from include.dlq import settings

    return ui_url(cfg=settings.resolve())


def stored_recently(report: DrainReport, types: Collection[str]) -> set[str]:
    """Which of ``types`` another run stored in errors.dlq_errors for the same DLQ topic within the
    last DLQ_ALERT_WINDOW_S. Unreachable database: the empty set (a digest too many, never one lost)."""
    import psycopg2

    from include import config
    from include.dlq import settings

    window_s = float(settings.resolve()["DLQ_ALERT_WINDOW_S"])
    try:
        conn = psycopg2.connect(config.pg_dsn("PG_STREAM_WRITER"), connect_timeout=10)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT DISTINCT error_type FROM errors.dlq_errors WHERE dlq_topic = %s "
                    "AND error_type = ANY(%s) AND run_id IS DISTINCT FROM %s "
                    "AND failed_at >= now() - make_interval(secs => %s)",
                    (report.dlq_topic, sorted(types), report.run_id, window_s),
                )
                return {row[0] for row in cur.fetchall()}
        finally:
            conn.close()
    except psycopg2.Error as exc:
        log.warning("could not read errors.dlq_errors to skip a repeated digest: %s", exc)
        return set()


def _one_line(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
