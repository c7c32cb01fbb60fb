"""Benchmark: ``fspatch check`` on large generated workspaces (whole process, peak RSS).

Issue 8's "check on a large workspace": the 20,000-file synthetic upstream of ``gen_tree.py``
with its 1,000-patch series as the common layer.  And issue 4's target measured on the whole
process: ``fspatch check --markers`` of 500 patches over a 5,000-file tree, < 2 s
(``bench_markers.py`` times the marker check function alone, in-process).

Timed, whole process, median of --runs (default 3), peak RSS (GNU ``time``):
  * ``fspatch -q -C WS check`` (every check: schemas, series, in-memory apply of the layer,
    markers, canonical form), and each of ``--apply``, ``--markers``, ``--canonical`` alone;
  * ``fspatch -q -C WS check --markers`` on the 5,000-file / 500-patch workspace.
``check`` is read-only and builds the layers in memory; nothing is applied in these workspaces.
Exit 1 (findings) counts as a normal run: the synthetic series is not meant to be clean.

Data under ``$FSPATCH_BENCH_DIR`` (default ``/tmp/fspatch-bench``), cached.

    python bench/bench_check.py [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_tree  # noqa: E402
from bench_apply import BACKEND, Measure, fmt_table, fspatch_cmd, run, target, timed, write_series  # noqa: E402


def log(msg: str) -> None:
    print(f"[bench_check] {msg}", file=sys.stderr, flush=True)


def workspace(series: gen_tree.Series, n: int) -> Path:
    """A workspace (made once) whose common layer is the first n patches of the series; nothing applied."""
    ws = gen_tree.bench_dir() / f"ws-check-f{series.tree.files}-p{n}-s{series.tree.seed}-g{gen_tree.GEN_VERSION}"
    if not (ws / ".made").exists():
        shutil.rmtree(ws, ignore_errors=True)
        t0 = time.perf_counter()
        run([*fspatch_cmd(), "init", str(ws)])
        run([*fspatch_cmd(), "-q", "-C", str(ws), "backend", "add", BACKEND, "--url", str(series.upstream),
             "--ref", gen_tree.TAG])
        (ws / ".made").write_text("")
        log(f"workspace {ws.name} made in {time.perf_counter() - t0:.1f}s")
    write_series(ws / "series" / BACKEND, series, n)
    return ws


def measure(label: str, ws: Path, args: list[str], runs: int, files: int, patches: int) -> Measure:
    m = Measure(files, patches, label)
    for _ in range(runs):
        dt, rss = timed([*fspatch_cmd(), "-q", "-C", str(ws), "check", *args], ok=(0, 1))
        m.times.append(dt)
        m.rss_kb = max(m.rss_kb, rss)
    log(f"{label}: median {m.median:.3f}s")
    return m


def findings(ws: Path, args: list[str]) -> str:
    out = subprocess.run([*fspatch_cmd(), "-C", str(ws), "check", *args], capture_output=True, text=True)
    lines = (out.stdout + out.stderr).strip().splitlines()
    return f"exit {out.returncode}" + (f", last line: {lines[-1].strip()}" if lines else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--patches", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args(argv)
    t_start = time.perf_counter()
    ms: list[Measure] = []

    big = gen_tree.generate(a.files, a.patches, a.seed)
    ws = workspace(big, a.patches)
    print(f"large workspace: {a.patches:,} patches on {a.files:,} files ({ws})")
    print(f"  fspatch check: {findings(ws, [])}")
    full = measure("check", ws, [], a.runs, a.files, a.patches)
    ms.append(full)
    for opt in ("--apply", "--markers", "--canonical"):
        ms.append(measure(f"check {opt}", ws, [opt], a.runs, a.files, a.patches))

    small = gen_tree.generate(5_000, 500, a.seed)
    ws4 = workspace(small, 500)
    print(f"issue 4 workspace: 500 patches on 5,000 files ({ws4})")
    print(f"  fspatch check --markers: {findings(ws4, ['--markers'])}")
    mk = measure("check --markers", ws4, ["--markers"], a.runs, 5_000, 500)
    ms.append(mk)

    print()
    print(fmt_table(ms).replace("tool      ", "what      ", 1))
    print()
    print(target("issue 8", f"fspatch check (all checks) on {a.patches:,} patches over {a.files:,} files, peak RSS",
                 f"{full.median:.3f} s, {full.rss_kb / 1024:.0f} MiB", None))
    print(target("issue 4", "check --markers on 500 patches over 5,000 files < 2 s (whole process)",
                 f"{mk.median:.3f} s, {mk.rss_kb / 1024:.0f} MiB", mk.median < 2.0))
    print(f"\n(benchmark took {time.perf_counter() - t_start:.0f}s including data preparation)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
