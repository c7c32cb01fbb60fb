#!/usr/bin/env python3
"""`make tour`: the place README's tour starts from (offline, deterministic, seconds).

Writes DIR/upstream-minillm (the example upstream: Python, C++ and CUDA sources, releases
v1.0 and v1.1) and DIR/example-patches (a quilt series of three patches against v1.0, each
change fenced in FLAGSCALE MODIFICATION markers).  README's console blocks run from DIR, and
tests/test_readme_console_blocks.py runs them from a DIR made by this script.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.example import common_patches, make_series, make_upstream  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: tour.py DIR", file=sys.stderr)
        return 2
    root = Path(argv[0])
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    upstream = root / "upstream-minillm"
    make_upstream(upstream)
    make_series(upstream, "v1.0", root / "example-patches", common_patches())
    print(f"tour ready: cd {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
