"""Shared fixtures of the ingest tests: the real 100-row Avazu sample and a generated 200k-row file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from include.ingest.generator import GenerationResult, generate

# 100 real rows of Avazu's train set (hour 14102100, 20 clicks), shipped with the project for the demo.
SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "avazu_sample_100.csv"


@pytest.fixture(scope="session")
def sample_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy, so no test can alter the vendored file."""
    path = tmp_path_factory.mktemp("sample") / "avazu_sample_100.csv"
    shutil.copyfile(SAMPLE, path)
    return path


@pytest.fixture(scope="session")
def sample_lines(sample_path: Path) -> list[bytes]:
    """Header first, terminators stripped."""
    return sample_path.read_bytes().splitlines()


@pytest.fixture(scope="session")
def generated_200k(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationResult]:
    path = tmp_path_factory.mktemp("gen") / "avazu_200k.csv"
    return path, generate(path, 200_000, "14102100", 24, seed=7, progress=False)
