"""Backfill: recompute the windows of hours the live stream has already passed (docs/backfill.md).

- :mod:`.plan` decides, from the live job's watermark, which hours stream and which backfill.
- :mod:`.run` publishes the hours to the backfill topic, runs the window SQL as a bounded batch job
  over exactly those records, then swaps the results in.
- :mod:`.swap` replaces a range's windows in PostgreSQL (one transaction), Redis and the archive.
"""
