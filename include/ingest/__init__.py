"""Ingestion logic: Avazu files -> timed rows -> schema-valid events with economics (no Kafka I/O here).

Modules: :mod:`avazu_reader` (stream and parse files), :mod:`event_time` (replay event times),
:mod:`economics` (the versioned price model), :mod:`events` (event dicts, validation, JSON, DLQ
records), :mod:`records` (the row/error types and exceptions) and :mod:`generator` (synthetic
Avazu-shaped files). Nothing here imports Airflow or Kafka so
the producer, the DAGs and the tests share one implementation.
"""
