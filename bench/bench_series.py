"""A 20,000-patch series applies in linear time (issue 15, finding 11).

Builds the example workspace with N one-line patches (each creates one file, spread over
folders of 100 so tree sizes stay realistic), applies the first, then times ``push -a`` for
N = 2,000 and N = 20,000.  Linear means the cost per patch at 20,000 stays within 1.5x of the
cost per patch at 2,000.

    python bench/bench_series.py [--small 2000] [--large 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_kill import _env  # noqa: E402


def per_patch(n: int, base: Path) -> float:
    from fspatch.commands import apply as apply_cmd
    from fspatch.commands import push as push_cmd
    from tests.wsutil import make_workspace

    w = make_workspace(base, patches=False)
    names = []
    for i in range(n):
        name = f"{i:05d}-p.patch"
        path = b"gen/%d/f%d.txt" % (i // 100, i)
        (w.series_dir / name).write_bytes(
            b"Subject: p%d\n---\ndiff --git a/%s b/%s\nnew file mode 100644\n"
            b"--- /dev/null\n+++ b/%s\n@@ -0,0 +1 @@\n+x\n"
            % (i, path, path, path)
        )
        names.append(name)
    (w.series_dir / "series").write_text("\n".join(names) + "\n")
    apply_cmd.run(w.ws(), "minillm", upto=names[0])
    t0 = time.perf_counter()
    push_cmd.run(w.ws(), "minillm", all_=True)
    took = time.perf_counter() - t0
    print(f"push -a of {n - 1} patches: {took:.2f} s ({1000 * took / (n - 1):.2f} ms a patch)")
    return took / (n - 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--large", type=int, default=20000)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fspatch-bench-series-"))
    (tmp / "home").mkdir()
    os.environ.update(_env(tmp / "home"))
    small = per_patch(a.small, tmp / "small")
    large = per_patch(a.large, tmp / "large")
    ratio = large / small
    print(
        f"TARGET: issue 15 | push -a of a {a.large}-patch series in linear time (per patch <= 1.5x of {a.small}) | "
        f"{ratio:.2f}x | {'ok' if ratio <= 1.5 else 'MISSED'}"
    )
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
