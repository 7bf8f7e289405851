"""
### Archive compaction

Every hour (at minute 10, after the hour before has closed), rewrites each **complete** hour of
the streaming job's Parquet archive that holds more than one data file into one file, sorted by
event time, and removes the files it read.

Why: the job rolls a file in every open hour at every checkpoint, so at live pace an hour holds
about 360 small files (10 s checkpoints). Reading ~8,600 files costs the daily ETL's extract more
than its rows do; compacted, the scheduled path reads one file per hour
([benchmarks](docs/benchmarks.md#batch)).

| task | what it does |
| --- | --- |
| `compact` | every archived day, every hour with its `_SUCCESS` marker and two or more data files; returns how many hours, files and rows it rewrote |

Safe beside the job (it only adds files; a late one is folded in next time), a backfill's swap
(it replaces an hour by renaming its directory; compaction keeps to the directory it opened) and
the daily ETL (it keeps one row per event id and reads the day again if a file it listed was
compacted away). Nothing is lost if a run fails or is skipped: the hour keeps its files and the
next run compacts it. The archive location is `FLINK_ARCHIVE_URI` (a `file://` URI).
"""

from __future__ import annotations

from airflow.sdk import dag, task

from include.dag_defaults import dag_args


@dag(
    dag_id="dag_archive_compaction",
    schedule="10 * * * *",
    doc_md=__doc__,
    **dag_args(),
    tags=["platform", "batch"],
    description="One Parquet file per complete archive hour, so the daily extract reads 24, not thousands",
)
def dag_archive_compaction() -> None:
    @task
    def compact() -> dict[str, int]:
        from include import archive, config
        from include.archive_compaction import compact_archive

        root = archive.root_path(config.get("FLINK_ARCHIVE_URI"))
        if not root.is_dir():
            print(f"no archive at {root} yet: nothing to compact")
            return {"hours": 0, "files": 0, "rows": 0}
        hours = files = rows = 0
        for done in compact_archive(root):
            print(
                f"{done.day} hour {done.hour:02d}: {done.files} files -> 1 ({done.rows} rows, "
                f"{done.bytes_before / 1e6:.1f} MB -> {done.bytes_after / 1e6:.1f} MB)"
            )
            hours, files, rows = hours + 1, files + done.files, rows + done.rows
        print(f"compacted {hours} hour(s) of {root}: {files} files into {hours}, {rows} rows")
        return {"hours": hours, "files": files, "rows": rows}

    compact()


dag_archive_compaction()
