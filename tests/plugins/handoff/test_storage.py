"""Hand-offs between tasks through Airflow's object storage: where the next task finds the file."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from plugins.handoff.storage import fetched, publish

PAYLOAD = b"PAR1" + bytes(range(256)) * 64


def _local(tmp_path: Path) -> Path:
    local = tmp_path / "data/processed/parquet/dt=2014-10-21/events.parquet"
    local.parent.mkdir(parents=True)
    local.write_bytes(PAYLOAD)
    return local


def test_on_one_machine_the_extracted_file_is_the_handoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = _local(tmp_path)
    monkeypatch.setenv("BATCH_HANDOFF_URI", f"file://{tmp_path}/data/processed/parquet")
    uri = publish(local, "dt=2014-10-21/events.parquet")
    assert local.exists() and uri == f"file://{local}"
    with fetched(uri) as path:
        assert Path(path) == local


def test_a_shared_store_elsewhere_gets_a_copy_and_the_worker_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = _local(tmp_path)
    monkeypatch.setenv("BATCH_HANDOFF_URI", f"file://{tmp_path}/shared/")
    uri = publish(local, "dt=2014-10-21/events.parquet")
    assert uri == f"file://{tmp_path}/shared/dt=2014-10-21/events.parquet"
    assert not local.exists(), "the producing worker's copy stays behind"
    with fetched(uri) as path:
        assert Path(path).read_bytes() == PAYLOAD


def test_an_object_store_is_read_through_a_temporary_local_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    attach("memory", fs=MemoryFileSystem())  # an object store without a provider, in this process
    local = _local(tmp_path)
    root = f"memory://handoff-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("BATCH_HANDOFF_URI", root)
    uri = publish(local, "dt=2014-10-21/events.parquet")
    assert uri.startswith("memory://") and uri.endswith("/dt=2014-10-21/events.parquet")
    assert not local.exists()
    with fetched(uri) as path:
        copy = Path(path)
        assert copy.read_bytes() == PAYLOAD and copy.name == "events.parquet"
    assert not copy.exists(), "the temporary copy outlives the task's use of it"
