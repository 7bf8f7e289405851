"""Command line: backfill an hour range behind the live stream (docs/backfill.md).

    python -m include.backfill --file data/raw/train.gz --from-hour 14102105 --to-hour 14102106

Exit codes: 0 done; 1 the backfill failed (nothing partial is visible; run it again); 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from include.backfill.run import BackfillError, BackfillRequest, run_backfill


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.backfill", description=__doc__.splitlines()[0])
    parser.add_argument("--file", required=True, type=Path, help="Avazu CSV or .gz holding the hours")
    parser.add_argument("--from-hour", required=True, metavar="YYMMDDHH", help="first hour (inclusive)")
    parser.add_argument("--to-hour", required=True, metavar="YYMMDDHH", help="last hour (inclusive)")
    parser.add_argument("--topic", help="backfill topic (default: setting TOPIC_BACKFILL)")
    parser.add_argument("--dlq-topic", help="dead-letter topic (default: setting TOPIC_DLQ)")
    parser.add_argument("--sink-table", default="realtime.ad_window_metrics", help="window table to update")
    parser.add_argument("--archive-uri", help='archive root (default FLINK_ARCHIVE_URI; "" = leave it)')
    parser.add_argument("--redis-prefix", help='cache key prefix (default REDIS_WINDOW_PREFIX; "" = none)')
    parser.add_argument("--job-name", help="Flink job name (default: <FLINK_JOB_NAME>_backfill)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    from include import config
    from include.ingest.ranges import check_range
    from include.kafka.topic_policy import TopicNotAllowed, check

    try:
        # The backfill topic, or a scratch raw topic (TOPIC_RAW_EXTRA); never the live job's topic.
        if args.topic is not None and args.topic != config.get("TOPIC_BACKFILL"):
            if args.topic == config.get("TOPIC_RAW"):
                raise TopicNotAllowed(
                    f"{args.topic!r} is the live job's topic: a backfill must not publish there"
                )
            check("raw", args.topic)
        if args.dlq_topic is not None:
            check("dlq", args.dlq_topic)
        check_range(args.file, args.from_hour, args.to_hour)
    except (TopicNotAllowed, ValueError) as exc:
        print(f"backfill: error: {exc}", file=sys.stderr)
        return 2
    request = BackfillRequest(
        file=args.file,
        hour_from=args.from_hour,
        hour_to=args.to_hour,
        topic=args.topic,
        dlq_topic=args.dlq_topic,
        sink_table=args.sink_table,
        archive_uri=args.archive_uri,
        redis_prefix=args.redis_prefix,
        job_name=args.job_name,
    )
    try:
        report = run_backfill(request)
    except BackfillError as exc:
        print(f"backfill: error: {exc}", file=sys.stderr)
        return 1
    print(report.summary(), file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
