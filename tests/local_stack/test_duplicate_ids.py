"""An event id counts once: the replay dead-letters a later copy of an id within its UTC day as
`duplicate` (line number, exact bytes), and the streaming job's windows equal the independent
oracle, which counts the first copy only. The daily ETL applies the same rule (test_daily_etl).

The replay is the real producer (``replay()``, sender processes and all) into a private topic, read
by the deployed job's code (window_metrics_support's isolated run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from stock_consumer_support import consume_stock
from window_metrics_support import isolated_run, submit_job, wait_for_table, wait_running

from include.flink_jobs.ad_window_metrics import oracle
from include.ingest.generator import generate
from include.ingest.producer import ReplayOptions, replay

pytestmark = pytest.mark.integration

ROWS = 3_000


def _plant_duplicates(path: Path) -> dict[int, bytes]:
    """Two later rows take the ids of earlier rows of the day (one of them twice in a row); returns
    the planted lines by line number. Their other values differ from the first copies'."""
    lines = path.read_bytes().split(b"\n")
    planted = {}
    for source, target in ((2, 1500), (2, 1501), (700, 2900)):
        lines[target] = lines[source].split(b",", 1)[0] + b"," + lines[target].split(b",", 1)[1]
        planted[target + 1] = lines[target]
    path.write_bytes(b"\n".join(lines))
    return planted


def test_a_repeated_id_is_counted_once_in_the_windows_and_its_copies_dead_lettered(
    bootstrapped: Any, cfg: dict[str, str], kafka_admin: Any, pg_owner: Any, tmp_path: Path
) -> None:
    path = tmp_path / "dups.csv"
    generate(path, ROWS, "13011100", 2, seed=31, progress=False)
    planted = _plant_duplicates(path)
    expected = oracle.compute_file(path)
    all_impressions = sum(
        r.impressions for r in expected.values() if r.dimension == "all" and r.window_size_s == 60
    )
    assert all_impressions == ROWS - len(planted)

    with isolated_run(cfg, kafka_admin, pg_owner) as run:
        report = replay(
            ReplayOptions(file=path, topic=run.topic, dlq_topic=run.dlq_topic, replay_id=f"dups-{run.token}")
        )
        assert report.ok and (report.published, report.dead_lettered) == (ROWS - 3, 3), report.render()
        assert report.by_error_type == {"duplicate": 3}, report.by_error_type

        # Read as another team would (stock deserializer, registered schema): each copy's line and bytes.
        dead = consume_stock(cfg["KAFKA_BOOTSTRAP_SERVERS"], cfg["SCHEMA_REGISTRY_URL"], run.dlq_topic)
        by_line = {int(dict(msg.headers())["line_no"]): letter for msg, letter in dead}
        assert sorted(by_line) == sorted(planted), by_line
        for line_no, letter in by_line.items():
            assert (letter["error_type"], letter["source"]) == ("duplicate", "producer")
            assert letter["raw_payload"].encode() == planted[line_no]
            assert letter["event_id"] == planted[line_no].split(b",", 1)[0].decode()
            assert "the first copy counts" in letter["error_message"]

        job_id = submit_job(cfg, run.job_args())
        wait_running(cfg, job_id)
        # The replay ended with its end-of-input markers: every window closes.
        wait_for_table(pg_owner, run.table, expected, timeout=240)
