"""Which files a DAG param may name: only those under the configured input roots.

A DAG's ``file`` param is typed by whoever can trigger the DAG, and the task reads it with the
worker's rights (its environment, its ``.env``, the stack's state). So the path is confined to the
directories of setting ``INGEST_FILE_ROOTS`` (default: ``samples/``, ``DATA_DIR/raw`` and
``DATA_DIR/demo``) after resolving symlinks and ``..``, and refused before anything is opened.
The refusal names the param, never the file's content. The command-line replay is not confined: it
runs with its user's own rights.
"""

from __future__ import annotations

from pathlib import Path

from include import config
from include.ingest.preflight import FileCheckError


def input_roots() -> list[Path]:
    """The resolved directories of setting INGEST_FILE_ROOTS."""
    return [
        Path(root.strip()).resolve() for root in config.get("INGEST_FILE_ROOTS").split(",") if root.strip()
    ]


def resolve_input_file(value: str, roots: list[Path] | None = None) -> Path:
    """``value`` (relative to the repository, or absolute) resolved, if it lies under an input root.

    Raises :class:`~include.ingest.preflight.FileCheckError` (one line) otherwise. Resolving follows
    every symlink, so a link inside a root that points outside it is refused too; the resolved path is
    what callers read, so the link cannot be swapped afterwards to point elsewhere.
    """
    if not value or "\x00" in value:
        raise FileCheckError("file: an empty path or one with a NUL byte is not a file name")
    allowed = input_roots() if roots is None else roots
    path = (config.PROJECT_ROOT / value).resolve()
    if not any(path.is_relative_to(root) for root in allowed):
        where = ", ".join(str(root) for root in allowed)
        raise FileCheckError(
            f"file {value!r} is outside the input directories ({where}; setting INGEST_FILE_ROOTS)"
        )
    return path
