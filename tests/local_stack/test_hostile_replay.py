"""Hostile files through the real replay CLI, the replay DAG and the DLQ retry: every row accounted,
whole-file problems refused before anything is published, exact bytes in the DLQ, file params confined
to the input roots (docs/ingestion.md "Hostile input")."""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from airflow_logs_support import task_log
from dlq_topics_support import topic_pairs

from include import config
from include.dlq.backoff import BackoffPolicy
from include.dlq.drain import DrainOptions, drain
from include.ingest.avazu_reader import AVAZU_HEADER, COL
from include.ingest.end_of_input import HEARTBEAT_HEADER
from include.ingest.events import original_payload
from include.kafka.metadata import committed_reader
from include.kafka.topic_reader import TopicReadThrough

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "avazu_sample_100.csv"


@pytest.fixture
def topics(kafka_admin: Any) -> Iterator[Any]:
    """A factory of fresh (raw, dlq) topic pairs; every topic, retry topics included, deleted at the end."""
    with topic_pairs(kafka_admin, "hostile") as make:
        yield make


def consume(bootstrap: str, topic: str) -> list[Any]:
    consumer = committed_reader(bootstrap, "t")
    try:
        reader = TopicReadThrough(consumer, topic)
        records = [m for batch in reader.batches(size=1000, deadline_s=120) for m in batch]
        assert reader.unread() == 0, f"did not reach the end of {topic}: {reader.unread()} offsets left"
        return [m for m in records if not any(k == HEARTBEAT_HEADER for k, _ in m.headers() or [])]
    finally:
        consumer.close()


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "include.ingest.replay", "--no-progress", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def field(row: bytes, column: str, value: bytes) -> bytes:
    f = row.split(b",")
    f[COL[column]] = value
    return b",".join(f)


def hostile_day(path: Path) -> tuple[Path, dict[int, bytes]]:
    """The 100 real rows spread over hours 00..09 of 2014-10-21, with one row of every bad kind;
    LF header, CRLF rows. Returns the bad rows by line number."""
    rows = SAMPLE.read_bytes().splitlines()[1:]
    lines = [field(r, "hour", b"141021%02d" % (k // 10)) for k, r in enumerate(rows)]
    bad = {
        3: lines[1][:8] + b"\x00" + lines[1][8:],
        5: b"\xef\xbb\xbf" + lines[3],
        7: field(lines[5], "site_id", b'"1fbe,01fe"'),
        9: b"",
        11: lines[9].rsplit(b",", 1)[0],
        13: lines[11] + b",1",
        15: field(lines[13], "C14", b"2147483648"),
        17: field(lines[15], "C17", b"9" * 25),
        19: field(lines[17], "site_id", lines[17].split(b",")[5] + b"\xa0"),  # Latin-1: repairable
        21: lines[18].split(b",", 1)[0] + b"," + lines[19].split(b",", 1)[1],  # line 20's id again
        31: field(lines[29], "hour", b"99999999"),  # garbage hour in the middle of the range
        41: lines[39] + b"," + b"7" * 200_000,  # over-long (the test lowers the limit)
    }
    for line_no, raw in bad.items():
        lines[line_no - 2] = raw
    path.write_bytes(AVAZU_HEADER + b"\n" + b"".join(line + b"\r\n" for line in lines))
    return path, bad


def test_every_row_is_accounted_by_the_replay_and_the_dlq_retry_repairs_exact_bytes(
    cfg, topics, bootstrapped, tmp_path
):
    bootstrap = cfg["KAFKA_BOOTSTRAP_SERVERS"]
    raw, dlq = topics()
    path, bad = hostile_day(tmp_path / "hostile.csv")
    result = cli(
        "--file", str(path), "--to-hour", "14102109", "--topic", raw, "--dlq-topic", dlq, "--json",
        env={"INGEST_MAX_LINE_BYTES": "65536"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["rows_read"] == 100 and report["ok"]
    assert report["published"] + report["dead_lettered"] == 100
    assert report["dead_lettered"] == len(bad)

    letters = {int(dict(m.headers())["line_no"]): (m, json.loads(m.value())) for m in consume(bootstrap, dlq)}
    assert sorted(letters) == sorted(bad)
    for line_no, (_msg, record) in letters.items():
        if record["raw_ref"]:  # over-long: a prefix here, every byte in the file it names
            assert record["raw_ref"]["bytes"] == len(bad[line_no])
            assert Path(record["raw_ref"]["path"]).read_bytes() == bad[line_no]
        exact = original_payload(record).encode("utf-8", "surrogateescape")
        assert exact == bad[line_no], line_no
    assert letters[19][1]["raw_payload_b64"] == base64.b64encode(bad[19]).decode()
    assert letters[15][1]["error_type"] == "schema" and "C14" in letters[15][1]["error_message"]
    assert (
        letters[21][1]["error_type"] == "duplicate" and "first copy counts" in letters[21][1]["error_message"]
    )
    assert letters[21][1]["event_id"] == bad[21].split(b",")[0].decode()
    assert len(consume(bootstrap, raw)) == report["published"]

    # The DLQ retry repairs the Latin-1 row from its exact bytes (U+FFFD would have lost it).
    group = f"hostile-{uuid.uuid4().hex[:8]}"
    options = DrainOptions(
        dlq_topic=dlq, raw_topic=raw, group_id=group, policy=BackoffPolicy(0.0, 0.0, 1), pushgateway_url=""
    )
    with psycopg2.connect(config.pg_dsn("PG_STREAM_WRITER")) as conn:
        drained = drain(options, conn)
    assert drained.republished == 2, drained.to_dict()  # and the BOM row (strip_bom)
    assert drained.permanent_by_type.get("duplicate") == 1, drained.to_dict()  # never republished
    repaired = {
        json.loads(m.value())["event_id"]: dict(m.headers())["dlq-repairs"]
        for m in consume(bootstrap, raw)
        if dict(m.headers() or []).get("dlq-repairs")
    }
    assert repaired[bad[19].split(b",")[0].decode()] == b"trim_nbsp:site_id"
    # The over-long line is settled (stored for good after its one attempt): its kept bytes are gone.
    kept = Path(letters[41][1]["raw_ref"]["path"])
    assert drained.payloads_removed >= 1 and not kept.exists(), f"{kept} outlived its dead letter"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("directory", "is a directory"),
        ("empty", "is empty"),
        ("truncated gzip", "truncated"),
        ("unsorted", "sorted by hour"),
        ("newline-free gzip", "longer than 4096 bytes"),
    ],
)
def test_whole_file_problems_exit_2_in_one_line_with_nothing_published(cfg, topics, tmp_path, kind, message):
    raw, dlq = topics()
    sample = SAMPLE.read_bytes()
    path = tmp_path / "input"
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated gzip":
        data = gzip.compress(sample * 3000)
        path.write_bytes(data[: len(data) // 2])
    elif kind == "unsorted":
        rows = sample.splitlines()[1:]
        lines = [field(r, "hour", b"14102101" if k < 50 else b"14102100") for k, r in enumerate(rows)]
        path.write_bytes(AVAZU_HEADER + b"\n" + b"\n".join(lines) + b"\n")
    else:
        path.write_bytes(gzip.compress(b"x" * 50_000_000))
    result = cli("--file", str(path), "--topic", raw, "--dlq-topic", dlq)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert consume(cfg["KAFKA_BOOTSTRAP_SERVERS"], raw) == []
    assert consume(cfg["KAFKA_BOOTSTRAP_SERVERS"], dlq) == []
    if kind == "unsorted":  # --sort replays a sorted copy instead
        sorted_run = cli("--file", str(path), "--sort", "--topic", raw, "--dlq-topic", dlq, "--json")
        assert sorted_run.returncode == 0, sorted_run.stderr
        copy = Path(sorted_run.stderr.split("replaying the sorted copy ", 1)[1].split()[0])
        copy.unlink()  # named by this run's temporary file: nobody replays it again
        assert json.loads(sorted_run.stdout)["published"] == 100


def test_dag_validate_refuses_bad_files_without_retry_and_without_reading_them(airflow, cfg):
    """A truncated gzip inside the input roots, and the worker's environment outside them: validate
    fails on its first try, names the problem, and nothing of the file reaches the log."""
    data = gzip.compress(SAMPLE.read_bytes() * 3000)
    path = Path(cfg["DATA_DIR"]) / "raw" / f"hostile_{uuid.uuid4().hex[:8]}.csv.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[: len(data) // 2])
    expected = {str(path): "truncated input", "/proc/self/environ": "is outside the input directories"}
    airflow.wait_for_dag("dag_avazu_replay")
    airflow.unpause("dag_avazu_replay")
    try:
        runs = {airflow.trigger("dag_avazu_replay", {"file": file}): file for file in expected}
        states = {run_id: airflow.wait_for_run("dag_avazu_replay", run_id, timeout=180) for run_id in runs}
    finally:
        path.unlink()
    for run_id, file in runs.items():
        assert states[run_id] == "failed"
        tis = {t["task_id"]: t for t in airflow.task_instances("dag_avazu_replay", run_id)}
        assert tis["validate"]["state"] == "failed" and tis["validate"]["try_number"] == 1
        assert tis["replay"]["state"] == "upstream_failed"
        log = task_log(cfg, "dag_avazu_replay", run_id, "validate")
        assert expected[file] in log, log[-2000:]
        assert cfg["PG_OWNER_PASSWORD"] not in log and cfg["AIRFLOW_FERNET_KEY"] not in log


def test_dag_sort_param_replays_a_sorted_copy_of_an_unsorted_file(airflow, cfg, kafka_admin):
    """Without `sort` the unsorted file is refused (test above, CLI); with it every row is published."""
    from confluent_kafka.admin import NewTopic

    rows = SAMPLE.read_bytes().splitlines()[1:]
    lines = [field(r, "hour", b"14102101" if k < 50 else b"14102100") for k, r in enumerate(rows)]
    path = Path(cfg["DATA_DIR"]) / "raw" / f"unsorted_{uuid.uuid4().hex[:8]}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(AVAZU_HEADER + b"\n" + b"\n".join(lines) + b"\n")
    topic = f"scratch_raw_sort_{uuid.uuid4().hex[:8]}"
    kafka_admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(timeout=30)
    airflow.wait_for_dag("dag_avazu_replay")
    airflow.unpause("dag_avazu_replay")
    try:
        run_id = airflow.trigger("dag_avazu_replay", {"file": str(path), "sort": True, "topic": topic})
        state = airflow.wait_for_run("dag_avazu_replay", run_id, timeout=300)
        assert state == "success", task_log(cfg, "dag_avazu_replay", run_id, "validate")[-2000:]
        report = airflow.xcom("dag_avazu_replay", run_id, "replay")
        assert (report["rows_read"], report["published"], report["dead_lettered"]) == (100, 100, 0), report
        events = [json.loads(m.value()) for m in consume(cfg["KAFKA_BOOTSTRAP_SERVERS"], topic)]
        assert len(events) == 100
        # Stable: hour 00's rows first, in their file order, then hour 01's.
        hours = [e["hour"] for e in sorted(events, key=lambda e: e["event_time"])]
        assert hours == ["14102100"] * 50 + ["14102101"] * 50
        assert "replaying the copy sorted by hour" in task_log(cfg, "dag_avazu_replay", run_id, "validate")
    finally:
        kafka_admin.delete_topics([topic])
        path.unlink()
        for copy in (Path(cfg["DATA_DIR"]) / "raw" / "sorted").glob(f"{path.stem}.*"):
            copy.unlink()
