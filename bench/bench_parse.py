"""Benchmark: parsing a 160-patch series and applying a hunk far from its header (in-process).

These were timing asserts in unit tests; speed targets live here instead (`make bench`).
Targets: 160 patches of 12 hunks parse in well under 100 ms; a hunk 420 lines off its
header in a 50,000-line file applies in milliseconds.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fspatch.core.hunks import apply_hunks  # noqa: E402
from fspatch.core.patch import Hunk, parse_patch  # noqa: E402
from tests.test_patchfile import _series  # noqa: E402


def _median(work, runs: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        work()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    series = _series(160)
    parse = _median(lambda: [parse_patch(p) for p in series])
    print(f"parse 160 patches (12 hunks each): median {parse * 1000:.1f} ms  (target < 100 ms: "
          f"{'ok' if parse < 0.1 else 'MISSED'})")
    lines = [b"    value_%d = compute(%d)\n" % (i, i) for i in range(50_000)]
    body = [(" ", lines[30_420]), (" ", lines[30_421]), (" ", lines[30_422]), ("-", lines[30_423]),
            ("+", b"    changed\n"), (" ", lines[30_424]), (" ", lines[30_425]), (" ", lines[30_426])]
    hunk = Hunk(30_001, 7, 30_001, 7, b"", tuple(body))
    content = b"".join(lines)
    far = _median(lambda: apply_hunks(content, [hunk], "big.py"))
    print(f"apply a hunk 420 lines off in a 50,000-line file: median {far * 1000:.2f} ms  (target < 50 ms: "
          f"{'ok' if far < 0.05 else 'MISSED'})")


if __name__ == "__main__":
    main()
