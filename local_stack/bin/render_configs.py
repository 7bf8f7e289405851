"""Renders local_stack/conf/ into $RUN_DIR/conf/: ``*.tmpl`` files get ``${NAME}`` substituted
from the environment (exported by lib.sh from include/config.py); other files are copied.

Rendering fails on an unknown ``${NAME}`` so a typo never reaches a running service.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from string import Template

STACK = Path(__file__).resolve().parent.parent


def render(src_root: Path, dst_root: Path, values: dict[str, str]) -> list[Path]:
    written = []
    for src in sorted(p for p in src_root.rglob("*") if p.is_file()):
        rel = src.relative_to(src_root)
        if src.suffix == ".tmpl":
            dst = dst_root / rel.with_suffix("")
            try:
                text = Template(src.read_text()).substitute(values)
            except KeyError as exc:
                sys.exit(f"render_configs: {rel} uses ${{{exc.args[0]}}}, which no setting defines")
        else:
            dst, text = dst_root / rel, None
        dst.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            shutil.copyfile(src, dst)
        else:
            dst.write_text(text)
        written.append(dst)
    return written


if __name__ == "__main__":
    out = Path(os.environ["RUN_DIR"]) / "conf"
    files = render(STACK / "conf", out, dict(os.environ))
    print(f"rendered {len(files)} config files into {out}", file=sys.stderr)
