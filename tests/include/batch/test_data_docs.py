"""Each validation is kept as a great-expectations Data Docs page, and a failure names its address
(real GX, writing into a temporary DOCS_DIR)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from include import config, docs_sites
from include.batch.extract import extract_day
from include.batch.validate import ValidationFailed, load_frame, validate_frame
from include.ingest.generator import main as generate

DAY = date(2014, 10, 22)


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("gx_docs")
    src = tmp / "in.csv"
    assert generate(["--rows", "2000", "--start-hour", "14102200", "--hours", "24", "--seed", "3",
                     "--out", str(src), "--no-progress"]) == 0  # fmt: skip
    return load_frame(extract_day(DAY, "avazu", tmp, src).parquet_path)


def _page_file(root: Path, url: str) -> Path:
    prefix = f"{config.get('AIRFLOW_EXTERNAL_URL').rstrip('/')}{docs_sites.URL_PREFIX}/"
    assert url.startswith(prefix), url
    return root / url.removeprefix(prefix)


def _text(page: Path) -> str:
    """The page's words without its markup (GX spreads one sentence over many elements)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.read_text()))


def test_a_passing_validation_is_kept_as_a_page_naming_the_suite_and_day(frame, tmp_path: Path) -> None:
    report = validate_frame(frame, DAY, docs_root=tmp_path)

    assert report.success and report.page_url
    page = _page_file(tmp_path, report.page_url)
    assert page.is_relative_to(tmp_path / "gx" / "validations" / "ad_events_daily" / DAY.isoformat())
    text = _text(page)
    assert "ad_events_daily" in text and DAY.isoformat() in text and "Succeeded" in text
    (run,) = docs_sites.validation_runs(tmp_path)
    assert (run.suite, run.day, run.success, run.evaluated, run.failed) == (
        "ad_events_daily", DAY.isoformat(), True, 17, 0
    )  # fmt: skip
    assert run.page == page.relative_to(tmp_path / "gx").as_posix()
    # The suite's own page and GX's index exist beside it.
    assert (tmp_path / "gx" / "expectations" / "ad_events_daily.html").is_file()
    assert run.page in (tmp_path / "gx" / "index.html").read_text()


def test_a_failure_names_its_page_in_the_first_line_that_reaches_slack(frame, tmp_path: Path) -> None:
    from plugins.slack_alerts.notifiers import error_line

    planted = frame.copy()
    planted.loc[7, "event_id"] = planted.loc[3, "event_id"]
    with pytest.raises(ValidationFailed) as err:
        validate_frame(planted, DAY, docs_root=tmp_path)

    url = err.value.page_url
    assert url and str(err.value).endswith(f"; see {url}")
    assert "\n" not in str(err.value)
    # What the task raises, as the Slack alert quotes it (its first line only).
    assert error_line(RuntimeError(str(err.value))).endswith(url)
    text = _text(_page_file(tmp_path, url))
    assert "Failed" in text and "event_id" in text and planted.loc[3, "event_id"] in text
    (run,) = docs_sites.validation_runs(tmp_path)
    assert (run.success, run.failed) == (False, 1)


def test_a_rerun_of_a_day_keeps_both_pages_until_the_day_is_removed(frame, tmp_path: Path) -> None:
    first = validate_frame(frame, DAY, docs_root=tmp_path)
    second = validate_frame(frame, DAY, docs_root=tmp_path)
    next_day = date(2014, 10, 23)
    with pytest.raises(ValidationFailed):  # DAY's events are not the next day's
        validate_frame(frame, next_day, docs_root=tmp_path)

    assert first.page_url != second.page_url
    runs = docs_sites.validation_runs(tmp_path)
    assert [(r.day, r.success) for r in runs] == [(next_day.isoformat(), False), (DAY.isoformat(), True),
                                                  (DAY.isoformat(), True)]  # fmt: skip

    assert docs_sites.remove_days(tmp_path, [DAY]) == 2
    assert [r.day for r in docs_sites.validation_runs(tmp_path)] == [next_day.isoformat()]
    assert not _page_file(tmp_path, first.page_url).exists()
    assert not _page_file(tmp_path, second.page_url).exists()


def test_without_a_docs_root_nothing_is_written(frame, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    report = validate_frame(frame, DAY)
    assert report.success and report.page_url is None
    assert list(tmp_path.iterdir()) == []


def test_a_day_keeps_only_its_newest_validations_and_the_index_forgets_the_rest(
    frame, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("DOCS_KEEP_VALIDATIONS_PER_DAY", "2")
    reports = [validate_frame(frame, DAY, docs_root=tmp_path) for _ in range(3)]

    runs = docs_sites.validation_runs(tmp_path)
    kept = {
        f"{config.get('AIRFLOW_EXTERNAL_URL').rstrip('/')}{docs_sites.URL_PREFIX}/gx/{r.page}" for r in runs
    }
    assert kept == {reports[1].page_url, reports[2].page_url}
    assert not _page_file(tmp_path, reports[0].page_url).exists()
    index = (tmp_path / "gx" / "index.html").read_text()
    assert runs[0].page in index and runs[1].page in index
    assert _page_file(tmp_path, reports[0].page_url).relative_to(tmp_path / "gx").as_posix() not in index


def test_validations_past_the_retention_are_deleted(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    def keep(suite: str, day: str, run_time: str) -> Path:
        result = tmp_path / "gx_results" / "validations" / suite / day / run_time / "b.json"
        result.parent.mkdir(parents=True)
        result.write_text("{}")
        page = tmp_path / "gx" / "validations" / suite / day / run_time / "b.html"
        page.parent.mkdir(parents=True)
        page.write_text("<html></html>")
        return page

    old = keep("ad_events_daily", "2014-10-21", "20260801T000000.000000Z")
    recent = keep("ad_events_daily", "2014-10-22", "20261130T000000.000000Z")
    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert docs_sites.prune(tmp_path, keep_per_day=3, retention_days=90, now=now) == 1
    assert not old.exists() and recent.exists()
    assert [r.day for r in docs_sites.validation_runs(tmp_path)] == ["2014-10-22"]
