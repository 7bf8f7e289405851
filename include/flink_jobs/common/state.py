"""Where a Flink job's checkpoints and savepoints live, and which of them is the newest.

They live under ``<checkpoints URI>/<job name>/`` and ``<savepoints URI>/<job name>/``: grouping
them by job *name* (job ids change at every submission) is what lets a resubmission find the newest
state of "the same" job. The job itself writes there (``--checkpoints-uri`` defaults to it).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from include import config
from include.flink_jobs.common.client import FlinkRestClient, client_from


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


class StateUnknown(RuntimeError):
    """The newest state of a job cannot be found: the JobManager does not know it and its state
    directories are on a store this process cannot list."""


def latest_state(
    job_name: str, cfg: dict[str, str] | None = None, client: FlinkRestClient | None = None
) -> str | None:
    """The newest completed checkpoint or savepoint of ``job_name``, None when it has none.

    First from the REST API (``client``, default: FLINK_REST_URL): the JobManager knows the
    checkpoints of every job it ran, on any file system, which is all a remote cluster offers.
    When it knows none (it was restarted since), the ``file://`` state directories are listed. A
    state directory on another store (``s3://``...) cannot be listed here: rather than start from
    scratch silently, :class:`StateUnknown` says to name the state or ``none``.
    """
    cfg = cfg or config.resolve()
    found = (client or client_from(cfg)).newest_state(job_name)
    if found:
        return found
    listed = _newest_listed(job_name, cfg)
    if listed:
        return listed
    elsewhere = [uri for uri in state_dirs(job_name, cfg) if urlparse(uri).scheme not in ("", "file")]
    if elsewhere:
        raise StateUnknown(
            f"{job_name}: the Flink cluster knows no checkpoint of it (restarted?) and "
            f"{' and '.join(elsewhere)} cannot be listed from here. Restore a state by its path "
            "(restore=<checkpoint or savepoint path>) or start from scratch (restore=none)."
        )
    return None


def _newest_listed(job_name: str, cfg: dict[str, str]) -> str | None:
    """The newest state directory (one with ``_metadata``) under the ``file://`` state URIs; a
    directory without ``_metadata`` is an incomplete one and is ignored."""
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
