"""The replay's progress bar on stderr."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def progress_bar(path: Path, hour_from: str | None, hour_to: str | None) -> Any:
    """A tqdm bar; its total (hence the ETA) is known for a whole plain-text file."""
    from tqdm import tqdm

    total = None
    if hour_from is None and hour_to is None:
        with open(path, "rb") as probe:
            plain = probe.read(2) != b"\x1f\x8b"
        if plain:
            total = _count_data_lines(path)
    return tqdm(total=total, unit="rows", unit_scale=True, file=sys.stderr, smoothing=0.1, dynamic_ncols=True)


def _count_data_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count - 1 + (last != b"\n")
