"""Command line: replay an Avazu file (or an hour range of it) into Kafka.

    python -m include.ingest.replay --file data/raw/train.gz --from-hour 14102100 --to-hour 14102123 \\
        --pace speed:60

Prints a progress bar (rows/s; ETA when the row count is known) and, at the end, the accounting
report. Problems a user can fix are one line on stderr, never a traceback.

Exit codes:

- 0: every row is in the raw topic or the DLQ (dead letters are accounted for, hence success)
- 1: accounting failed: some rows failed delivery or are unaccounted for (see the report)
- 2: bad input, found before anything is published: a topic outside the allow-list of its kind
  (``TOPIC_RAW``/``TOPIC_RAW_EXTRA``, ``TOPIC_DLQ``/``TOPIC_DLQ_EXTRA``), a missing file or a
  directory, an empty file, not an Avazu header, a truncated or corrupt gzip, hours out of order (``--sort`` fixes that), a bad or
  empty hour range, bad arguments. Bad *rows* are not bad input: they are dead-lettered (exit 0).
- 3: a service is unreachable or unprepared: Kafka, the schema registry, a missing topic or subject
- 130: interrupted (Ctrl-C)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from include.ingest.pacing import Pace

EXIT_OK, EXIT_ACCOUNTING, EXIT_INPUT, EXIT_SERVICE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m include.ingest.replay",
        description="Replay an Avazu CSV (plain or gzip) into Kafka: schema-validated JSON, bad rows to the DLQ.",
        epilog="exit codes: 0 ok, 1 accounting failed, 2 bad input, 3 service unreachable, 130 interrupted",
    )
    parser.add_argument("--file", required=True, type=Path, help="Avazu CSV or .gz file")
    parser.add_argument("--from-hour", metavar="YYMMDDHH", help="first hour to replay (inclusive)")
    parser.add_argument("--to-hour", metavar="YYMMDDHH", help="last hour to replay (inclusive)")
    parser.add_argument(
        "--pace",
        default="asap",
        help="asap (default), speed:F (F x event time; speed:60 = one Avazu hour per minute) or live",
    )
    parser.add_argument("--topic", help="raw topic: TOPIC_RAW (the default) or one of TOPIC_RAW_EXTRA")
    parser.add_argument(
        "--dlq-topic", help="dead-letter topic: TOPIC_DLQ (the default) or one of TOPIC_DLQ_EXTRA"
    )
    parser.add_argument(
        "--workers", type=int, help="sender processes for asap (default: one per partition, max 3)"
    )
    parser.add_argument("--replay-id", help="name of this run in logs and metrics (default: time + suffix)")
    parser.add_argument(
        "--sort",
        action="store_true",
        help="replay a copy sorted by hour (stable, out of core, under DATA_DIR/raw/sorted) instead",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _ensure_partitions(path: Path, hour_from: str | None, hour_to: str | None) -> None:
    """Creates the window partitions of the replayed days (as the replay DAG does), when it can.

    A file that cannot be read is left to the replay, which reports it in one line. The replay
    itself does not need PostgreSQL; without it the maintenance DAG creates the days later and
    moves their windows out of the DEFAULT partition.
    """
    from include.db import partitions
    from include.ingest.ranges import file_hour_span

    try:
        span = None if hour_from and hour_to else file_hour_span(path)
        first = hour_from or (span.first if span else None)
        last = hour_to or (span.last if span else None)
        if not first or not last:
            return
        first_day, last_day = partitions.day_of_hour(first), partitions.day_of_hour(last)
    except Exception:  # bad input: the replay's own check says what is wrong, in one line
        return
    try:
        import psycopg

        from include import config

        with psycopg.connect(config.pg_dsn("PG_OWNER"), autocommit=True, connect_timeout=5) as conn:
            partitions.ensure_days(conn, first_day, last_day)
    except Exception as exc:  # PostgreSQL may simply be away
        logging.getLogger(__name__).warning(
            "could not create the window partitions of the replayed days (%s); "
            "dag_partition_maintenance will",
            exc,
        )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    prog = "replay"
    try:
        pace = Pace.parse(args.pace)
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if args.workers is not None and args.workers < 1:
        print(f"{prog}: error: --workers must be >= 1", file=sys.stderr)
        return EXIT_INPUT
    from include.kafka.topic_policy import refusal

    if reason := refusal(raw=args.topic, dlq=args.dlq_topic):
        print(f"{prog}: error: {reason}", file=sys.stderr)
        return EXIT_INPUT

    from include.ingest.producer import ReplayError, ReplayOptions, replay

    if args.sort:
        from include.ingest.preflight import FileCheckError
        from include.ingest.sort_input import sort_by_hour

        try:
            args.file = sort_by_hour(args.file)
        except FileCheckError as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return EXIT_INPUT
        print(f"{prog}: replaying the sorted copy {args.file}", file=sys.stderr)
    if pace.mode != "live":
        _ensure_partitions(args.file, args.from_hour, args.to_hour)

    options = ReplayOptions(
        file=args.file,
        hour_from=args.from_hour,
        hour_to=args.to_hour,
        pace=pace,
        topic=args.topic,
        dlq_topic=args.dlq_topic,
        workers=args.workers,
        replay_id=args.replay_id,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    try:
        report = replay(options)
    except ReplayError as exc:
        if exc.report is not None:
            print(exc.report.render(), file=sys.stderr)
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(
            f"{prog}: interrupted: rows already sent stay in Kafka; replay the range again", file=sys.stderr
        )
        return EXIT_INTERRUPTED
    print(report.render(), file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict()))
    return EXIT_OK if report.ok else EXIT_ACCOUNTING


if __name__ == "__main__":
    sys.exit(main())
