"""Where the documentation sites live, how their addresses are made, and how the dbt site is swapped."""

from __future__ import annotations

from pathlib import Path

import pytest

from include import config, docs_sites


def test_public_url_is_on_the_ui_as_people_reach_it() -> None:
    cfg = config.resolve({"AIRFLOW_EXTERNAL_URL": "https://airflow.example.com/team-a/"})
    assert docs_sites.public_url("gx/validations/s/d/t/b.html", cfg) == (
        "https://airflow.example.com/team-a/docs-sites/gx/validations/s/d/t/b.html"
    )


def test_docs_dir_defaults_under_data_dir() -> None:
    cfg = config.resolve({"DATA_DIR": "/srv/adevents"})
    assert docs_sites.docs_root(cfg) == Path("/srv/adevents/docs")


def _write(folder: Path, **files: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return [folder / name for name in files]


def test_publish_replaces_the_whole_site(tmp_path: Path) -> None:
    site = tmp_path / "docs" / "dbt"
    docs_sites.publish_files(_write(tmp_path / "run1", **{"index.html": "1", "stale.json": "old"}), site)
    docs_sites.publish_files(_write(tmp_path / "run2", **{"index.html": "2", "manifest.json": "{}"}), site)

    assert sorted(p.name for p in site.iterdir()) == ["index.html", "manifest.json"]
    assert (site / "index.html").read_text() == "2"
    assert sorted(p.name for p in site.parent.iterdir()) == ["dbt"]  # no staging folder left


def test_publish_with_a_missing_file_leaves_the_site_as_it_was(tmp_path: Path) -> None:
    site = tmp_path / "dbt"
    docs_sites.publish_files(_write(tmp_path / "run1", **{"index.html": "1"}), site)
    files = [*_write(tmp_path / "run2", **{"index.html": "2"}), tmp_path / "run2" / "catalog.json"]

    with pytest.raises(FileNotFoundError, match="cannot publish dbt: missing .*catalog.json"):
        docs_sites.publish_files(files, site)
    assert (site / "index.html").read_text() == "1"


def test_validation_runs_skip_an_unreadable_result(tmp_path: Path) -> None:
    results = tmp_path / "gx_results" / "validations" / "ad_events_daily" / "2014-10-21"
    (results / "20261202T100000.000000Z").mkdir(parents=True)
    (results / "20261202T100000.000000Z" / "b.json").write_text('{"success": true, "statistics": '
                                                                 '{"evaluated_expectations": 17}}')  # fmt: skip
    (results / "20261202T110000.000000Z").mkdir()
    (results / "20261202T110000.000000Z" / "b.json").write_text('{"success": tr')  # being written

    (run,) = docs_sites.validation_runs(tmp_path)
    assert (run.run_time_text, run.success, run.evaluated, run.failed) == (
        "2026-12-02 10:00:00 UTC",
        True,
        17,
        0,
    )
    assert run.page == "validations/ad_events_daily/2014-10-21/20261202T100000.000000Z/b.html"
