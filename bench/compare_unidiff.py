"""Not part of ``make bench``: the measurement behind dropping unidiff (docs/design-notes.md).

unidiff was declared for the text-hunk parsing of ``core/patch.py``.  This times, on a real patch
set (``git format-patch`` of the last N non-merge commits of a repository) and on bench_parse's
160-patch series, median of 5, in-process:

  * ``parse_patch`` as it is (own byte-level parser);
  * ``unidiff.PatchSet`` alone on the same bytes (decoded as latin-1, so bytes survive; it reads no
    binary payloads, modes or copies, so it does less work than fspatch);
  * ``parse_patch`` with its hunk reader replaced by unidiff (our file headers, binary payloads and
    modes kept, unidiff's Hunk/Line objects converted back to ours), checked equal to the first.

    pip install unidiff
    python bench/compare_unidiff.py                       # the Megatron-LM mirror, 500 commits
    python bench/compare_unidiff.py --repo PATH/.git -n 300
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fspatch.core import patch as P  # noqa: E402
from tests.test_patchfile import _series  # noqa: E402


def _median(work: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        work()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _hunks_by_unidiff(self: Any, i: int) -> tuple[tuple[P.Hunk, ...], int]:
    """The hunk block of one file parsed by unidiff, converted to fspatch's ``Hunk``."""
    import unidiff

    lines, n = self.lines, self.n
    j = i
    while j < n and not lines[j].startswith(b"diff --git ") and lines[j] not in (b"-- ", b"--"):
        j += 1
    text = (b"--- a\n+++ b\n" + b"\n".join(lines[i:j]) + b"\n").decode("latin-1")
    try:
        patched = unidiff.PatchSet(text)[0]
    except unidiff.UnidiffParseError as exc:
        raise self.error(i, str(exc)) from None  # unidiff names no line
    out, used = [], 0
    for h in patched:
        body: list[tuple[str, bytes]] = []
        used += 1
        for line in h:
            used += 1
            if line.line_type == "\\":
                kind, content = body[-1]
                body[-1] = (kind, content[:-1])
                continue
            body.append((line.line_type, line.value.encode("latin-1")))
        section = h.section_header.encode("latin-1")
        out.append(P.Hunk(h.source_start, h.source_length, h.target_start, h.target_length, section, tuple(body)))
    return tuple(out), i + used


def main() -> None:
    import unidiff

    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", default="/work/.mirror/NVIDIA+Megatron-LM/repo", help="a git dir")
    ap.add_argument("-n", type=int, default=500, help="how many commits")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["git", "--git-dir", args.repo, "format-patch", "-q", "--no-merges", "-o", tmp, f"-{args.n}", "HEAD"]
        subprocess.run(cmd, check=True)
        real = [p.read_bytes() for p in sorted(Path(tmp).glob("*.patch"))]
    sets = ((f"{len(real)} real patches of {args.repo}", real), ("bench_parse's 160 x 12 hunks", _series(160)))
    for label, data in sets:
        own = _median(lambda data=data: [P.parse_patch(d) for d in data])
        alone = _median(lambda data=data: [unidiff.PatchSet(d.decode("latin-1")) for d in data])
        expected = [P.parse_patch(d) for d in data]
        saved = P._Parser.hunks
        P._Parser.hunks = _hunks_by_unidiff  # type: ignore[method-assign]
        try:
            hybrid = _median(lambda data=data: [P.parse_patch(d) for d in data])
            same = sum(a == b for a, b in zip(expected, (P.parse_patch(d) for d in data), strict=True))
        finally:
            P._Parser.hunks = saved  # type: ignore[method-assign]
        lines = sum(d.count(b"\n") for d in data)
        print(
            f"{label} ({lines:,} lines): parse_patch {own * 1000:.0f} ms | "
            f"unidiff.PatchSet alone {alone * 1000:.0f} ms ({alone / own:.1f}x) | "
            f"parse_patch with unidiff hunks {hybrid * 1000:.0f} ms ({hybrid / own:.1f}x), "
            f"same result for {same}/{len(data)}"
        )


if __name__ == "__main__":
    main()
