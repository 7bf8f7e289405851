"""The job's SQL transform, run in a batch TableEnvironment on files of records, equals the oracle.

PyFlink lives in its own venv, so the transform runs in a subprocess (batch_transform.py, one for the
whole module) and this test compares its JSON output. No stack needed: batch mode, local mini-cluster.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from include.flink_jobs.ad_window_metrics import oracle
from include.ingest.generator import generate

REPO = Path(__file__).resolve().parents[3]
FLINK_PYTHON = REPO / ".venvs" / "flink" / "bin" / "python"
SAMPLE = REPO / "samples" / "avazu_sample_100.csv"
ANSWER_PREFIX = "@answer "  # batch_transform.py's


@pytest.fixture(scope="module")
def transform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[str]]:
    """One batch_transform.py server for the module: PyFlink starts once, not once per test."""
    log = tmp_path_factory.mktemp("transform") / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [str(FLINK_PYTHON), str(Path(__file__).with_name("batch_transform.py")), "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        yield proc
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_batch(
    transform: subprocess.Popen[str], tmp_path: Path, lines: list[bytes], watermark_ms: int | None = None
) -> dict[str, Any]:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.json"
    request = {"events": str(events), "out": str(out), "watermark_ms": watermark_ms}
    transform.stdin.write(json.dumps(request) + "\n")  # type: ignore[union-attr]
    transform.stdin.flush()  # type: ignore[union-attr]
    while not (answer := transform.stdout.readline()).startswith(ANSWER_PREFIX):  # type: ignore[union-attr]
        assert answer, f"the transform server exited ({transform.poll()}): see its stderr.log"
    result = json.loads(answer.removeprefix(ANSWER_PREFIX))
    assert result["ok"], result["error"][-5000:]
    return json.loads(out.read_text())


def as_rows(windows: list[dict[str, str | None]]) -> dict[oracle.Key, oracle.WindowRow]:
    def ts(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    def dec(text: str | None) -> Decimal | None:
        return None if text is None else Decimal(text)

    out = {}
    for w in windows:
        row = oracle.WindowRow(
            int(w["window_size_s"]), ts(w["window_start"]), ts(w["window_end"]), w["dimension"],
            w["dimension_value"], int(w["impressions"]), int(w["clicks"]), int(w["conversions"]),
            dec(w["cost"]), dec(w["revenue"]), dec(w["ctr"]), dec(w["cpc"]), dec(w["cpa"]), dec(w["roas"]),
        )  # fmt: skip
        out[row.key] = row
    return out


def encoded(path: Path) -> list[tuple[dict[str, Any], bytes]]:
    from include.ingest.avazu_reader import read_avazu
    from include.ingest.economics import load_price_model
    from include.ingest.events import compile_validator, encode_row, load_schema

    validator, model = compile_validator(load_schema()), load_price_model()
    return [e for e in (encode_row(r, validator, model) for r in read_avazu(path)) if isinstance(e, tuple)]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[dict[str, Any], bytes]]:
    path = tmp_path_factory.mktemp("gen") / "gen.csv"
    generate(path, 20_000, "14102306", 2, seed=3, progress=False)
    return encoded(path)


def test_sample_windows_equal_the_oracle_and_payloads_round_trip(transform, tmp_path):
    events = encoded(SAMPLE)
    result = run_batch(transform, tmp_path, [payload for _, payload in events])
    assert as_rows(result["windows"]) == oracle.compute(e for e, _ in events)
    assert all(c["error_type"] is None for c in result["classified"])
    # Every row carries the record as read (what its dead letter would hold).
    assert sorted(c["payload"] for c in result["classified"]) == sorted(p.decode() for _, p in events)


def test_generated_windows_equal_the_oracle(transform, tmp_path, generated):
    result = run_batch(transform, tmp_path, [payload for _, payload in generated])
    expected = oracle.compute(e for e, _ in generated)
    assert len(expected) > 1000
    assert as_rows(result["windows"]) == expected


def test_bad_records_are_classified_and_never_counted(transform, tmp_path):
    (good, payload), *_ = encoded(SAMPLE)

    def variant(**changes: Any) -> bytes:
        return json.dumps({**good, **changes}).encode()

    without_campaign = {k: v for k, v in good.items() if k != "campaign_id"}
    cases = {
        "1": (variant(event_id="1", click=2), "click must be 0 or 1"),
        "2": (variant(event_id="2", click="1.5"), "click must be 0 or 1"),
        "3": (variant(event_id="3", cost=-0.5), "cost must be a non-negative number"),
        "4": (variant(event_id="4", revenue="lots"), "revenue must be a non-negative number"),
        "5": (
            variant(event_id="5", event_time="soon"),
            "event_time must be a non-negative integer (epoch ms)",
        ),
        "6": (variant(event_id="6", event_time=1.5), "event_time must be a non-negative integer (epoch ms)"),
        "7": (variant(event_id="7", device_type="01"), "device_type must be an integer"),
        "8": (variant(event_id="8", banner_pos=None), "banner_pos must be an integer"),
        "9": (json.dumps({**without_campaign, "event_id": "9"}).encode(), "campaign_id is missing"),
        "10": (variant(event_id="10", conversion=True), "conversion must be 0 or 1"),
    }
    result = run_batch(transform, tmp_path, [payload] + [line for line, _ in cases.values()])
    by_id = {c["event_id"]: c for c in result["classified"]}
    assert by_id[good["event_id"]]["error_type"] is None
    for event_id, (_, message) in cases.items():
        assert (by_id[event_id]["error_type"], by_id[event_id]["error_message"]) == (
            "schema",
            message,
        ), event_id
    # Dead letters carry the record exactly as it was written (here with json.dumps' spaces).
    assert all(by_id[event_id]["payload"] == line.decode() for event_id, (line, _) in cases.items())
    # Only the good event counts.
    assert as_rows(result["windows"]) == oracle.compute([good])


def test_unparsable_records_are_parsing_dead_letters_with_their_bytes(transform, tmp_path):
    """What the format cannot read as one UTF-8 JSON object is ``parsing``, never counted or dropped.

    A file has no null values (a tombstone); the integration test sends one through Kafka.
    """
    (good, payload), *_ = encoded(SAMPLE)
    cases = {
        b"this is not json": "record value is not a JSON object",
        b"[1, 2, 3]": "record value is not a JSON object",
        b'"a string"': "record value is not a JSON object",
        b'{"event_id": "x"} {"event_id": "y"}': "record value is not a JSON object",
        b'{"event_id": "x", "campaign_id": ': "record value is not a JSON object",
        b'{"event_id": "1", "campaign_id": "\xff\xfe"}': "record value is not valid UTF-8",
    }
    result = run_batch(transform, tmp_path, [payload, *cases])
    parsing = [c for c in result["classified"] if c["error_type"] == "parsing"]
    assert sorted((c["payload"], c["error_message"]) for c in parsing) == sorted(
        (line.decode(errors="replace"), message) for line, message in cases.items()
    )
    assert all(c["event_id"] is None for c in parsing)
    assert as_rows(result["windows"]) == oracle.compute([good])


def test_records_at_or_behind_the_watermark_are_late_and_not_counted(transform, tmp_path):
    events = encoded(SAMPLE)
    watermark = sorted(e["event_time"] for e, _ in events)[40]
    result = run_batch(transform, tmp_path, [p for _, p in events], watermark_ms=watermark)
    late = {c["event_id"] for c in result["classified"] if c["error_type"] == "late_event"}
    assert late == {e["event_id"] for e, _ in events if e["event_time"] <= watermark}
    assert all(
        "is not after the watermark" in c["error_message"] for c in result["classified"] if c["error_type"]
    )
    on_time = [e for e, _ in events if e["event_time"] > watermark]
    assert as_rows(result["windows"]) == oracle.compute(on_time)


def test_heartbeats_are_neither_counted_nor_dead_lettered(transform, tmp_path):
    events = encoded(SAMPLE)[:5]
    heartbeat = json.dumps({"event_time": 1413936000000, "source": "__heartbeat__"}).encode()
    result = run_batch(transform, tmp_path, [p for _, p in events] + [heartbeat])
    kinds = sorted(str(c["error_type"]) for c in result["classified"])
    assert kinds == ["None"] * 5 + ["heartbeat"]
    assert as_rows(result["windows"]) == oracle.compute(e for e, _ in events)
