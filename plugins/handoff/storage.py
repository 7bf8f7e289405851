"""Files one task hands to the next, through Airflow's object storage (``ObjectStoragePath``).

The next task may run on another worker (Celery, Kubernetes), so a hand-off is a URI under
BATCH_HANDOFF_URI, never a path on the producing worker's disk. With the default, a file:// URI
under DATA_DIR on one machine, the producer's file already is the hand-off: nothing is copied.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from include import config


def _path(uri: str):  # type: ignore[no-untyped-def]
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(uri, conn_id=config.get("BATCH_HANDOFF_CONN_ID") or None)


def _copy(source, target) -> None:  # type: ignore[no-untyped-def]
    """Streams one file to another (each a Path or an ObjectStoragePath), 8 MiB at a time."""
    with source.open("rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, length=8 << 20)


def publish(local: Path, relative: str) -> str:
    """Puts ``local`` at ``BATCH_HANDOFF_URI/relative``; returns its URI. A copy made elsewhere
    removes ``local``: the next tasks read the hand-off, and nothing stale stays on this worker."""
    target = _path(f"{config.get('BATCH_HANDOFF_URI').rstrip('/')}/{relative.lstrip('/')}")
    if target.protocol == "file" and Path(target.path).resolve() == local.resolve():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy(local, target)
    local.unlink()
    return str(target)


@contextlib.contextmanager
def fetched(uri: str) -> Iterator[str]:
    """A local path of the hand-off at ``uri`` for the duration of the block (the file itself when
    it is on this machine's file system, else a temporary copy)."""
    source = _path(uri)
    if source.protocol == "file":
        yield source.path
        return
    with tempfile.TemporaryDirectory(prefix="handoff-") as tmp:
        local = Path(tmp) / source.name
        _copy(source, local)
        yield str(local)
