"""Regenerate the committed dbt manifest that Cosmos renders the daily DAG from (``make dbt-manifest``).

Why a committed manifest: ``target/`` is git-ignored and Cosmos's other load modes run ``dbt ls``
(~10 s) while the DAG file is parsed. ``dbt parse`` needs the profile but no database connection,
so this runs anywhere the dbt venv exists. :func:`manifest_fingerprint` is what the freshness test
compares: the nodes, sources and macros with their checksums, not timestamps or invocation ids.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from include import config

PROJECT_DIR = Path(config.get("DBT_PROJECT_DIR"))
MANIFEST_PATH = PROJECT_DIR / "manifest" / "manifest.json"


def parse(target_dir: Path) -> Path:
    """Run ``dbt parse`` into ``target_dir``; returns the manifest it wrote."""
    env = {**os.environ, "DBT_PROFILES_DIR": str(PROJECT_DIR), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    cmd = [config.get("DBT_EXECUTABLE"), "parse", "--no-partial-parse", "--target-path", str(target_dir)]
    done = subprocess.run(cmd, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return target_dir / "manifest.json"


def manifest_fingerprint(manifest: dict[str, Any]) -> dict[str, Any]:
    """What must match between the committed and a fresh manifest (paths, SQL checksums, configs)."""

    def node_key(node: dict[str, Any]) -> dict[str, Any]:
        return {
            "path": node.get("original_file_path"),
            "checksum": (node.get("checksum") or {}).get("checksum"),
            "depends_on": sorted((node.get("depends_on") or {}).get("nodes", [])),
            "config": json.dumps(node.get("config", {}), sort_keys=True, default=str),
        }

    return {
        "nodes": {k: node_key(v) for k, v in manifest["nodes"].items()},
        "sources": sorted(manifest["sources"]),
        "macros": {
            k: v.get("macro_sql") for k, v in manifest["macros"].items() if k.startswith("macro.ad_events.")
        },
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="dbt_manifest_") as tmp:
        fresh = parse(Path(tmp))
        MANIFEST_PATH.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fresh, MANIFEST_PATH)
    nodes = len(json.loads(MANIFEST_PATH.read_text())["nodes"])
    print(f"wrote {MANIFEST_PATH} ({nodes} nodes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
