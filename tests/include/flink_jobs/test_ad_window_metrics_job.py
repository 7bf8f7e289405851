"""The job's argument contract and the statements it builds (no Flink needed: the module plans nothing
until main())."""

from __future__ import annotations

import argparse

import pytest

from include import config
from include.flink_jobs.ad_window_metrics import job, sql


def test_defaults_come_from_the_settings():
    cfg = config.resolve({})
    args = job.parse_args([], cfg)
    assert (args.source_topic, args.dlq_topic, args.pipeline_name) == (
        "ad_events_raw",
        "ad_events_error",
        "ad_window_metrics",
    )
    assert args.group_id == "ad_window_metrics"
    assert args.sink_table == "realtime.ad_window_metrics"
    assert (args.out_of_orderness, args.idle_timeout, args.checkpoint_interval) == (5000, 0, 10_000)
    assert args.archive_uri == f"file://{cfg['DATA_DIR']}/processed/archive"
    assert args.checkpoints_uri == f"{cfg['FLINK_CHECKPOINTS_URI']}/ad_window_metrics"
    assert job.parse_args(["--pipeline-name", "other"], cfg).checkpoints_uri.endswith("/checkpoints/other")
    assert args.redis_ttl == 7_200_000
    assert args.startup_mode == "earliest-offset"


def test_durations():
    assert [job.duration_ms(t) for t in ("500 ms", "5 s", "5", "2 min", "1 h", "1.5s")] == [
        500, 5000, 5000, 120_000, 3_600_000, 1500,
    ]  # fmt: skip
    with pytest.raises(argparse.ArgumentTypeError):
        job.duration_ms("soon")


def test_statements_route_every_record_and_keep_secrets_out_of_arguments(monkeypatch):
    monkeypatch.setenv("ADEVENTS_JDBC_USER", "writer")
    monkeypatch.setenv("ADEVENTS_JDBC_PASSWORD", "s3cret")
    cfg = config.resolve()
    args = job.parse_args(
        ["--source-topic", "t", "--dlq-topic", "d", "--pipeline-name", "p", "--redis-url", ""], cfg
    )
    ddl, inserts = job.statements(args, cfg)
    text = "\n".join(ddl)
    assert "'password' = 's3cret'" in text and "'username' = 'writer'" in text
    assert "'sink.transactional-id-prefix' = 'p-dlq'" in text
    assert "idle-timeout" not in text  # off by default: markers move empty partitions
    ddl_idle, _ = job.statements(job.parse_args(["--idle-timeout", "30 s", "--redis-url", ""], cfg), cfg)
    assert "'scan.watermark.idle-timeout' = '30000 ms'" in "\n".join(ddl_idle)
    assert "INTERVAL '0 00:00:05.000' DAY TO SECOND(3)" in text
    assert [i.split()[2] for i in inserts] == ["metrics_sink", "dlq_sink", "archive_sink"]
    assert "redis_sink" not in text
    # One read of the topic, one parse per record: every dead letter comes from the same source.
    assert text.count("'connector' = 'kafka'") == 2  # the source and the DLQ sink
    assert "'value.format' = 'adevents-json'" in text and "'raw'" not in text
    assert "payloads" not in text


def test_blackhole_sinks_keep_the_queries():
    cfg = config.resolve()
    args = job.parse_args([], cfg)
    ddl, inserts = job.statements(args, cfg)
    ddl_bh, inserts_bh = job.statements(job.parse_args(["--blackhole-sinks"], cfg), cfg)
    assert inserts_bh[:3] == inserts[:3]
    assert ddl_bh[: len(ddl) - 4] == ddl[: len(ddl) - 4]  # source and views
    sinks = [d for d in ddl_bh if d.startswith("CREATE TEMPORARY TABLE") and " events (" not in d]
    assert len(sinks) == 4 and all("'connector' = 'blackhole'" in d for d in sinks)
    assert "cache_windows_in_redis" not in "\n".join(inserts_bh)


def test_format_jar_is_built_once_per_source_version(tmp_path):
    cfg = config.resolve()
    jar = job.format_jar(cfg, tmp_path)
    assert jar.exists() and job.format_jar(cfg, tmp_path) == jar
    import zipfile

    names = zipfile.ZipFile(jar).namelist()
    assert "META-INF/services/org.apache.flink.table.factories.Factory" in names
    assert "io/adevents/flink/EventJsonFormatFactory.class" in names


def test_interval_rendering():
    assert sql.interval(0) == "INTERVAL '0 00:00:00.000' DAY TO SECOND(3)"
    assert sql.interval(90_061_001) == "INTERVAL '1 01:01:01.001' DAY TO SECOND(3)"
    with pytest.raises(ValueError):
        sql.interval(-1)


def test_a_backfill_is_the_same_windows_bounded_into_the_staging_table():
    cfg = config.resolve()
    stream_ddl, _ = job.statements(job.parse_args(["--redis-url", ""], cfg), cfg)
    argv = ["--backfill-id", "b1", "--start-offsets", "partition:0,offset:5",
            "--end-offsets", "partition:0,offset:9", "--archive-uri", "file:///tmp/staged"]  # fmt: skip
    args = job.parse_args(argv, cfg)
    assert args.redis_url == ""  # the backfill replaces the range's cache itself
    ddl, inserts = job.statements(args, cfg)
    text = "\n".join(ddl)
    assert "'scan.bounded.specific-offsets' = 'partition:0,offset:9'" in text
    assert "'scan.startup.specific-offsets' = 'partition:0,offset:5'" in text
    assert sql.BATCH_WATERMARK in text and "CURRENT_WATERMARK" not in text  # nothing is late
    assert "'table-name' = 'realtime.ad_window_metrics_backfill'" in text
    assert "'sink.delivery-guarantee' = 'at-least-once'" in text
    assert inserts[0].startswith("INSERT INTO metrics_sink SELECT 'b1' AS backfill_id, window_size_s")
    assert [i.split()[2] for i in inserts] == ["metrics_sink", "dlq_sink", "archive_sink"]
    # One window definition: the on-time filter and both aggregation levels are the stream's, word for word.
    assert ddl[2:5] == stream_ddl[2:5] and "window_metrics AS" in ddl[4]
    with pytest.raises(SystemExit):
        job.parse_args(["--backfill-id", "b1"], cfg)
