"""The backfill CLI refuses bad input in one line with exit code 2, before anything is published."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.backfill.__main__ import main

REPO = Path(__file__).resolve().parents[3]
SAMPLE = str(REPO / "samples" / "avazu_sample_100.csv")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(["--topic", "ad_events_raw"], "the live job's topic", id="live-topic"),
        pytest.param(["--topic", "payments"], "not an allowed raw topic", id="other-topic"),
        pytest.param(["--dlq-topic", "ad_events_raw"], "not an allowed dlq topic", id="dlq-topic"),
    ],
)
def test_refused_topics(extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--file", SAMPLE, "--from-hour", "14102100", "--to-hour", "14102100", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("backfill: error:") and message in err and "\n" not in err


def test_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "none.csv")
    assert main(["--file", missing, "--from-hour", "14102100", "--to-hour", "14102100"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("backfill: error:") and "\n" not in err
