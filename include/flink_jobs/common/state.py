"""Where a Flink job's checkpoints and savepoints live, and which of them is the newest.

They live under ``<checkpoints URI>/<job name>/`` and ``<savepoints URI>/<job name>/``: grouping
them by job *name* (job ids change at every submission) is what lets a resubmission find the newest
state of "the same" job. The job itself writes there (``--checkpoints-uri`` defaults to it).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from include import config


def local_path(uri: str) -> Path:
    """``file:/x``, ``file:///x`` or ``/x`` -> ``Path('/x')`` (Flink itself writes ``file:/x``)."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        raise ValueError(f"{uri} is not a local path")
    return Path(parsed.path)


def state_dirs(job_name: str, cfg: dict[str, str] | None = None) -> tuple[str, str]:
    """The (checkpoints, savepoints) URIs of ``job_name``."""
    cfg = cfg or config.resolve()
    return (
        f"{cfg['FLINK_CHECKPOINTS_URI'].rstrip('/')}/{job_name}",
        f"{cfg['FLINK_SAVEPOINTS_URI'].rstrip('/')}/{job_name}",
    )


def latest_state(job_name: str, cfg: dict[str, str] | None = None) -> str | None:
    """The newest completed checkpoint or savepoint of ``job_name`` (a directory with ``_metadata``).

    Only ``file://`` URIs can be listed here; on object stores the caller passes the path it got
    from the REST API instead. A state directory without ``_metadata`` is an incomplete one and
    is ignored.
    """
    newest: tuple[float, str] | None = None
    for uri in state_dirs(job_name, cfg):
        parsed = urlparse(uri)
        if parsed.scheme not in ("", "file"):
            continue
        root = Path(parsed.path)
        if not root.is_dir():
            continue
        for meta in root.glob("**/_metadata"):
            mtime = meta.stat().st_mtime
            if newest is None or mtime > newest[0]:
                newest = (mtime, f"file://{meta.parent}")
    return newest[1] if newest else None
