"""The pipeline's Kafka topics, declared once, and an idempotent ``ensure_topics``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from include import config

_DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)


def pipeline_topics(cfg: dict[str, str] | None = None) -> list[TopicSpec]:
    cfg = cfg or config.resolve()
    rf = int(cfg["KAFKA_REPLICATION_FACTOR"])
    return [
        # Raw events: a week of replayable history for Flink restarts and backfills.
        TopicSpec(
            cfg["TOPIC_RAW"],
            int(cfg["TOPIC_RAW_PARTITIONS"]),
            rf,
            {"retention.ms": str(7 * _DAY_MS), "cleanup.policy": "delete"},
        ),
        # Dead letters outlive raw events: an operator may only look at them days later.
        TopicSpec(
            cfg["TOPIC_DLQ"],
            int(cfg["TOPIC_DLQ_PARTITIONS"]),
            rf,
            {"retention.ms": str(30 * _DAY_MS), "cleanup.policy": "delete"},
        ),
        backfill_topic(cfg),
    ]


def backfill_topic(cfg: dict[str, str], name: str | None = None) -> TopicSpec:
    """The backfill's topic (``TOPIC_BACKFILL`` unless named): a batch job reads a range of it by
    exact offsets right after it is published, so a day of retention is plenty."""
    return TopicSpec(
        name or cfg["TOPIC_BACKFILL"],
        int(cfg["TOPIC_RAW_PARTITIONS"]),
        int(cfg["KAFKA_REPLICATION_FACTOR"]),
        {"retention.ms": str(_DAY_MS), "cleanup.policy": "delete"},
    )


def ensure_topics(admin: Any, specs: list[TopicSpec], timeout: float = 30.0) -> dict[str, str]:
    """Creates missing topics and grows partition counts; returns topic -> outcome.

    Outcomes: ``created``, ``unchanged``, ``partitions increased to N``. A topic with *more*
    partitions than declared is left alone (Kafka cannot shrink a topic) and reported.
    ``admin`` is a ``confluent_kafka.admin.AdminClient``.
    """
    from confluent_kafka.admin import NewPartitions, NewTopic

    existing = admin.list_topics(timeout=timeout).topics
    outcomes: dict[str, str] = {}
    to_create = [s for s in specs if s.name not in existing]
    if to_create:
        futures = admin.create_topics(
            [NewTopic(s.name, s.partitions, s.replication_factor, config=s.config) for s in to_create],
            operation_timeout=timeout,
        )
        for name, future in futures.items():
            future.result()
            outcomes[name] = "created"
    grow = []
    for spec in specs:
        if spec.name in outcomes:
            continue
        have = len(existing[spec.name].partitions)
        if have < spec.partitions:
            grow.append(NewPartitions(spec.name, spec.partitions))
            outcomes[spec.name] = f"partitions increased to {spec.partitions}"
        elif have > spec.partitions:
            outcomes[spec.name] = f"unchanged ({have} partitions, more than the {spec.partitions} declared)"
        else:
            outcomes[spec.name] = "unchanged"
    if grow:
        for future in admin.create_partitions(grow, operation_timeout=timeout).values():
            future.result()
    return outcomes
