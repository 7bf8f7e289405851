"""The replay producer: Avazu rows -> validated JSON events in Kafka, bad rows to the DLQ, full accounting.

Imports nothing from Airflow: the CLI (:mod:`include.ingest.replay`), the replay DAG, the bench and
the tests call :func:`replay` in-process. This module is its public face; the work is done in:

- :mod:`include.ingest.replay_run`: one replay, start to end (input checks, services, senders, report);
- :mod:`include.ingest.replay_options`, :mod:`include.ingest.replay_errors`: what is asked, what fails;
- :mod:`include.ingest.blocks`: lines -> per-sender blocks, each partition owned by one sender;
- :mod:`include.ingest.sender_pool`: sender processes (or one in-process sender for paced replays);
- :mod:`include.ingest.sender`: a block -> events and dead letters, produced in order;
- :mod:`include.ingest.kafka_producer`: delivery accounting, broker outages, stuck clients.
"""

from __future__ import annotations

from include.ingest.replay_errors import InputError, ReplayError, ServiceError
from include.ingest.replay_options import ReplayOptions
from include.ingest.replay_run import replay

__all__ = ["InputError", "ReplayError", "ReplayOptions", "ServiceError", "replay"]
