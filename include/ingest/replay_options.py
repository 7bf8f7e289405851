"""What a replay is asked to do (:class:`ReplayOptions`) and the run's name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.ingest.pacing import Pace


@dataclass(frozen=True)
class ReplayOptions:
    """What to replay and where. Unset endpoints and topics come from :mod:`include.config`.

    :param file: Avazu CSV, plain or gzip.
    :param hour_from: first hour (YYMMDDHH, inclusive); default the file's first.
    :param hour_to: last hour (inclusive); default the file's last.
    :param pace: :class:`Pace` (default asap).
    :param topic: raw topic (default setting ``TOPIC_RAW``).
    :param dlq_topic: dead-letter topic (default ``TOPIC_DLQ``).
    :param workers: sender processes for ``asap`` (default: one per partition, at most 3); paced
        replays always use one in-process sender.
    :param replay_id: names the run in logs, metrics and client ids (default: time + random suffix).
    :param progress: show a tqdm bar on stderr.
    :param push_interval_s: seconds between two metric pushes while running (default 5).
    :param kafka_overrides: producer settings over ``PRODUCER_DEFAULTS``
        (:mod:`include.ingest.kafka_producer`).
    :param subject: / :param dlq_subject: registry subjects of the raw and DLQ records (default
        ``SCHEMA_SUBJECT`` / ``DLQ_SCHEMA_SUBJECT``).
    :param end_of_input: after a complete, non-live replay, publish the end-of-input markers that let
        the streaming job close the last windows (:mod:`include.ingest.end_of_input`).
    """

    file: Path
    hour_from: str | None = None
    hour_to: str | None = None
    pace: Pace = field(default_factory=Pace)
    topic: str | None = None
    dlq_topic: str | None = None
    workers: int | None = None
    replay_id: str | None = None
    progress: bool = False
    push_interval_s: float = 5.0
    bootstrap_servers: str | None = None
    registry_url: str | None = None
    subject: str | None = None
    dlq_subject: str | None = None
    pushgateway_url: str | None = None
    price_model_path: str | None = None
    kafka_overrides: dict[str, Any] = field(default_factory=dict)
    end_of_input: bool = True


def new_replay_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
