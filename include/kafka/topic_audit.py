"""Is every record of a topic described by its registered schema? Read it whole and say.

This is the check another team relies on when it points a stock client at our topics: each
record names its schema in headers (:mod:`include.schema_headers`), that schema is a version of
the topic's subject (``<topic>-value``, the registry clients' default naming), and the value
validates against it. Markers are told apart from events by the schema alone: a record the
registered schema's ``if`` subschema accepts is a marker (the raw topic's watermark variant).

The schemas are fetched from the registry by the ids the records carry, never read from our own
files, so a producer that validated against a stale local copy is caught here.

    python -m include.kafka.topic_audit                  # the raw and dead-letter topics
    python -m include.kafka.topic_audit --topic scratch_x --subject ad_events_raw-value

Exit 0 when every record is valid, 1 when one is not (the first problems are listed), 2 when the
broker or registry cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import fastjsonschema
import orjson
from confluent_kafka import KafkaException

from include import config
from include.kafka.errors import KafkaServiceError
from include.kafka.metadata import committed_reader
from include.kafka.topic_reader import TopicReadThrough
from include.schema_headers import schema_id_of

MAX_PROBLEMS = 20


@dataclass
class TopicAudit:
    """What reading ``topic`` whole found; ``problems`` holds the first few invalid records."""

    topic: str
    subject: str
    records: int = 0
    events: int = 0
    markers: int = 0
    invalid: int = 0
    skipped_offsets: int = 0
    """Offsets below the end never delivered: commit markers, aborted transactions' records."""
    schema_ids: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.invalid == 0

    def summary(self) -> str:
        ids = ", ".join(map(str, sorted(self.schema_ids))) or "none"
        verdict = "every record valid" if self.ok else f"{self.invalid:,} INVALID"
        if self.skipped_offsets:
            verdict += f"; {self.skipped_offsets:,} trailing offsets held no committed record"
        return (
            f"{self.topic}: {self.records:,} records ({self.markers:,} of them markers) "
            f"against {self.subject} (schema ids {ids}): {verdict}"
        )


@dataclass
class _Checker:
    """One registered schema, compiled: validates a value and says whether it is a marker."""

    validate: Callable[[Any], Any]
    is_marker: Callable[[Any], bool]


def _compile(schema: dict[str, Any]) -> _Checker:
    validate = fastjsonschema.compile(schema)
    condition = schema.get("if")
    if not isinstance(condition, dict):
        return _Checker(validate, lambda _value: False)
    dialect = {"$schema": schema["$schema"]} if "$schema" in schema else {}
    matches = fastjsonschema.compile({**condition, **dialect})

    def is_marker(value: Any) -> bool:
        try:
            matches(value)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return _Checker(validate, is_marker)


class _Schemas:
    """The subject's schemas by id, fetched once each; an id of another subject is an error."""

    def __init__(self, registry_url: str, subject: str) -> None:
        from include.schema_registry import SchemaRegistryClient

        self._registry = SchemaRegistryClient(registry_url)
        self._subject = subject
        self._by_id: dict[int, _Checker | str] = {}

    def checker(self, schema_id: int) -> _Checker | str:
        """The compiled schema, or why the id cannot describe a record of this subject."""
        if schema_id not in self._by_id:
            self._by_id[schema_id] = self._fetch(schema_id)
        return self._by_id[schema_id]

    def _fetch(self, schema_id: int) -> _Checker | str:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        from include.schema_registry import RegistryUnreachable, httpx

        try:
            text = self._registry.schema_by_id(schema_id)
            registered = self._registry.lookup(self._subject, text)
        except httpx.TransportError as exc:
            raise RegistryUnreachable(f"schema registry unreachable ({type(exc).__name__})") from None
        except SchemaRegistryError as exc:
            return f"schema id {schema_id} is not in the registry ({exc.error_message})"
        if registered is None:
            return f"schema id {schema_id} is not a version of {self._subject}"
        return _compile(orjson.loads(text))


def audit_topic(
    bootstrap: str,
    registry_url: str,
    topic: str,
    subject: str | None = None,
    progress: bool = False,
) -> TopicAudit:
    """Read ``topic`` from its start to the end it had when called (committed records only)."""
    audit = TopicAudit(topic, subject or f"{topic}-value")
    schemas = _Schemas(registry_url, audit.subject)
    consumer = committed_reader(bootstrap, "topic-audit", **{"auto.offset.reset": "earliest"})
    try:
        reader = TopicReadThrough(consumer, topic)
        bar = _progress(progress, topic, reader.total)
        for batch in reader.batches():
            for msg in batch:
                _check(audit, schemas, msg)
            if bar is not None:
                bar.update(len(batch))
        audit.skipped_offsets = reader.unread()
        if bar is not None:
            bar.close()
        return audit
    finally:
        consumer.close()


def _check(audit: TopicAudit, schemas: _Schemas, msg: Any) -> None:
    audit.records += 1
    where = f"partition {msg.partition()} offset {msg.offset()}"
    schema_id = schema_id_of(msg.headers())
    if schema_id is None:
        return _invalid(audit, f"{where}: no schema header (apicurio.value.contentId or __value_schema_id)")
    audit.schema_ids.add(schema_id)
    checker = schemas.checker(schema_id)
    if isinstance(checker, str):
        return _invalid(audit, f"{where}: {checker}")
    try:
        value = orjson.loads(msg.value() or b"")
        checker.validate(value)
    except orjson.JSONDecodeError as exc:
        return _invalid(audit, f"{where}: not JSON ({exc})")
    except fastjsonschema.JsonSchemaException as exc:
        return _invalid(audit, f"{where}: {exc.message}")
    if checker.is_marker(value):
        audit.markers += 1
    else:
        audit.events += 1


def _invalid(audit: TopicAudit, problem: str) -> None:
    audit.invalid += 1
    if len(audit.problems) < MAX_PROBLEMS:
        audit.problems.append(problem)


def _progress(enabled: bool, topic: str, total: int) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=topic, unit="records", unit_scale=True, file=sys.stderr, dynamic_ncols=True)


def default_targets(cfg: Mapping[str, str]) -> list[tuple[str, str]]:
    """The pipeline's topics that hold schema'd records, with their subjects."""
    return [(cfg["TOPIC_RAW"], cfg["SCHEMA_SUBJECT"]), (cfg["TOPIC_DLQ"], cfg["DLQ_SCHEMA_SUBJECT"])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.kafka.topic_audit",
        description="Validate every record of a topic against the schema its headers name.",
    )
    parser.add_argument("--topic", help="one topic (default: the raw and dead-letter topics)")
    parser.add_argument("--subject", help="its subject (default: <topic>-value)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    from include.schema_registry import RegistryError

    cfg = config.resolve()
    targets = [(args.topic, args.subject or f"{args.topic}-value")] if args.topic else default_targets(cfg)
    failed = False
    for topic, subject in targets:
        try:
            audit = audit_topic(
                cfg["KAFKA_BOOTSTRAP_SERVERS"],
                cfg["SCHEMA_REGISTRY_URL"],
                topic,
                subject,
                progress=not args.no_progress and sys.stderr.isatty(),
            )
        except (KafkaServiceError, KafkaException, RegistryError) as exc:
            print(f"cannot read {topic}: {exc} (is the stack up? make status)", file=sys.stderr)
            return 2
        print(audit.summary())
        for problem in audit.problems:
            print(f"  {problem}")
        failed |= not audit.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
