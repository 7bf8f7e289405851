"""include/dlq/payloads.py: kept payloads are removed by digest or age, and nothing else ever is."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from include.dlq.payloads import payload_digest, prune, remove

DIGEST = hashlib.sha256(b"a very long line").hexdigest()


def _letter(raw_ref: object) -> bytes:
    return json.dumps({"error_type": "parsing", "raw_payload": "a ve", "raw_ref": raw_ref}).encode()


def test_the_digest_comes_from_raw_ref_and_its_path_is_never_trusted() -> None:
    assert payload_digest(_letter({"bytes": 16, "sha256": DIGEST, "path": "/etc/passwd"})) == DIGEST
    assert payload_digest(_letter(None)) is None
    assert payload_digest(_letter({"sha256": "../../etc/passwd"})) is None
    assert payload_digest(b'{"raw_ref": ') is None  # not JSON: nothing to remove
    assert payload_digest(None) is None


def test_remove_takes_only_kept_payload_names(tmp_path: Path) -> None:
    (tmp_path / DIGEST).write_bytes(b"x")
    outside = tmp_path.parent / f"outside_{DIGEST[:8]}"
    outside.write_bytes(b"keep")
    try:
        assert remove(tmp_path, [DIGEST, DIGEST, "../" + outside.name, "0" * 64]) == 1
        assert not (tmp_path / DIGEST).exists() and outside.exists()
    finally:
        outside.unlink()


def test_prune_removes_payloads_past_retention_only(tmp_path: Path) -> None:
    now = time.time()
    old, fresh = tmp_path / DIGEST, tmp_path / hashlib.sha256(b"new").hexdigest()
    partial, other = tmp_path / ".partial-1-abc", tmp_path / "README"
    for path in (old, fresh, partial, other):
        path.write_bytes(b"x")
    for path in (old, partial, other):
        os.utime(path, (now - 31 * 86400, now - 31 * 86400))
    assert prune(tmp_path, 0, now) == 0  # 0 keeps everything
    assert prune(tmp_path, 30, now) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, other.name])
    assert prune(tmp_path / "missing", 30, now) == 0
