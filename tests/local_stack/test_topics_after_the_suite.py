"""After everything the suite wrote (demo, replays, backfills, DLQ retries, restarts), every record
of the pipeline's own topics is described by the schema registered for its subject, and markers
are markers by that schema. Another team's stock client would read them all.

It runs last (marker ``runs_last``): a record any earlier test left behind is caught here.
"""

from __future__ import annotations

from typing import Any

import pytest

from include.kafka.topic_audit import audit_topic, default_targets

pytestmark = [pytest.mark.integration, pytest.mark.runs_last]


def test_every_record_of_the_raw_and_dead_letter_topics_validates(
    bootstrapped: Any, cfg: dict[str, str]
) -> None:
    for topic, subject in default_targets(cfg):
        audit = audit_topic(cfg["KAFKA_BOOTSTRAP_SERVERS"], cfg["SCHEMA_REGISTRY_URL"], topic, subject)
        print(audit.summary())
        assert audit.ok, "\n".join([audit.summary(), *audit.problems])
        if topic == cfg["TOPIC_RAW"]:
            assert audit.events > 0 and audit.markers > 0, audit.summary()
