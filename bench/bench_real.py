"""Benchmark: the repo's own series on the real megatron, llama.cpp and vLLM release trees.

Issue 8's second item.  The upstream trees are the release sdists imported as git history by
``scripts/demo_real.sh`` / ``scripts/import_sdist.py`` into ``$FSPATCH_CACHE/upstreams/<b>.git``
(see notes/real-upstreams.md; ``FSPATCH_CACHE`` defaults to ``~/.cache/fspatch``).  When a repo is
missing, ``scripts/demo_real.sh`` is run for the missing backends (it downloads and imports, then
runs its demo; at most 15 minutes); if that fails the backend is skipped with a message.

A workspace under ``$FSPATCH_BENCH_DIR/real`` pins each backend at the ref of this repo's
``upstream.lock`` (the imported tag) and copies this repo's ``series/<b>/``.  Timed, whole
process, median of --runs (default 5), peak RSS (GNU ``time``):
  * ``fspatch -q -C WS apply B`` per backend (``fspatch pop -a`` between runs, untimed);
  * ``fspatch -q -C WS check B`` per backend, and ``fspatch -q -C WS check`` of the whole
    workspace (every check: schemas, series, in-memory apply, markers, canonical form).
Each stack's tree is checked against the tree ``git apply --cached`` gives for the same series
on the same tag.

    python bench/bench_real.py [--backends vllm,megatron,llama_cpp] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_tree  # noqa: E402
from bench_apply import Measure, fmt_table, fspatch_cmd, run, timed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("megatron", "llama_cpp", "vllm")
PREPARE_TIMEOUT = 900


def log(msg: str) -> None:
    print(f"[bench_real] {msg}", file=sys.stderr, flush=True)


def cache() -> Path:
    return Path(os.environ.get("FSPATCH_CACHE") or Path.home() / ".cache" / "fspatch")


def pinned_refs() -> dict[str, str]:
    """backend -> ref, read from this repo's upstream.lock (plain text: no YAML import needed)."""
    refs, current = {}, None
    for line in (ROOT / "upstream.lock").read_text().splitlines():
        m = re.match(r"^  ([a-z0-9_]+):\s*$", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^    ref:\s*(\S+)", line)
        if m and current:
            refs[current] = m.group(1).strip("'\"")
    return refs


def prepare(missing: list[str]) -> None:
    log(f"{', '.join(missing)} not in {cache() / 'upstreams'}: running scripts/demo_real.sh to download and import")
    env = dict(os.environ, DEMO_BACKENDS=" ".join(missing), FSPATCH_CACHE=str(cache()),
               PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", PYTHON=sys.executable)
    try:
        out = subprocess.run(["bash", str(ROOT / "scripts" / "demo_real.sh")], env=env, capture_output=True,
                             timeout=PREPARE_TIMEOUT, check=False)
        if out.returncode != 0:
            log(f"demo_real.sh exit {out.returncode}: {out.stderr.decode(errors='replace').strip()[-500:]}")
    except subprocess.TimeoutExpired:
        log(f"demo_real.sh took more than {PREPARE_TIMEOUT}s: stopped")


def expected_tree(repo: Path, ref: str, series_dir: Path) -> str:
    """The tree `git apply --cached` gives for the series on ref (scratch index, nothing checked out)."""
    with tempfile.TemporaryDirectory(prefix="fspatch-real-") as tmp:
        env = dict(gen_tree.git_env(), GIT_INDEX_FILE=str(Path(tmp) / "index"))
        gen_tree.git(repo, "read-tree", ref, env=env)
        for line in (series_dir / "series").read_text().splitlines():
            line = re.sub(r"(^|\s)#.*", "", line).strip()
            if line:
                name, *opts = line.split()
                gen_tree.git(repo, "apply", "--cached", *opts, str(series_dir / name), env=env)
        return gen_tree.git(repo, "write-tree", env=env).decode().strip()


def measure(label: str, cmd: list[str], runs: int, files: int, patches: int, before: list[str] | None = None,
            ok: tuple[int, ...] = (0,)) -> Measure:
    m = Measure(files, patches, label)
    for _ in range(runs):
        if before:
            run(before, check=False)
        dt, rss = timed(cmd, ok=ok)
        m.times.append(dt)
        m.rss_kb = max(m.rss_kb, rss)
    return m


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-prepare", action="store_true", help="skip missing upstreams instead of importing them")
    a = ap.parse_args(argv)
    t_start = time.perf_counter()
    refs = pinned_refs()
    wanted = [b for b in a.backends.split(",") if b]
    ups = cache() / "upstreams"
    missing = [b for b in wanted if not (ups / f"{b}.git").is_dir()]
    if missing and not a.no_prepare:
        prepare(missing)
    have = [b for b in wanted if (ups / f"{b}.git").is_dir()]
    for b in wanted:
        if b not in have:
            print(f"{b}: SKIPPED: no imported upstream at {ups / (b + '.git')} "
                  f"(run `make demo-real`, or set FSPATCH_CACHE to a cache that has it)")
    if not have:
        print("no real upstream available: nothing measured")
        return 1
    print(f"upstreams: {ups}; series: {ROOT / 'series'}; runs: {a.runs} (median)")

    ws = gen_tree.bench_dir() / "real" / "ws"
    if not (ws / ".made").exists() or (ws / ".made").read_text() != ",".join(have):
        shutil.rmtree(ws, ignore_errors=True)
        ws.parent.mkdir(parents=True, exist_ok=True)
        run([*fspatch_cmd(), "init", str(ws)])
        for b in have:
            run([*fspatch_cmd(), "-q", "-C", str(ws), "backend", "add", b, "--url", str(ups / f"{b}.git"),
                 "--ref", refs[b], "--path", f"third_party/{b}"])
        (ws / ".made").write_text(",".join(have))
    fs = [*fspatch_cmd(), "-q", "-C", str(ws)]
    ms: list[Measure] = []
    info: dict[str, tuple[int, int]] = {}
    same_by: dict[str, bool] = {}
    for b in have:
        run([*fs, "pop", "-a", b], check=False)
        dst = ws / "series" / b
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(ROOT / "series" / b, dst)
        checkout = ws / "third_party" / b
        files = int(gen_tree.git(checkout, "ls-tree", "-r", "--name-only", refs[b]).count(b"\n"))
        patches = sum(1 for ln in (dst / "series").read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#"))
        info[b] = (files, patches)
        log(f"{b}: {patches} patches on {files:,} files ({refs[b]}) ...")
        ms.append(measure(f"{b} apply", [*fs, "apply", b], a.runs, files, patches, before=[*fs, "pop", "-a", b]))
        got = gen_tree.git(checkout, "rev-parse", "HEAD^{tree}").decode().strip()
        want = expected_tree(ups / f"{b}.git", refs[b], dst)
        same = same_by[b] = got == want
        print(f"{b}: {patches} patches on {files:,} files at {refs[b]}: stack tree {got[:12]}, "
              f"git apply gives {want[:12]} ({'identical' if same else 'DIFFERENT'})")
        ms.append(measure(f"{b} check", [*fs, "check", b], a.runs, files, patches, ok=(0, 1)))
    total_files = sum(f for f, _ in info.values())
    total_patches = sum(p for _, p in info.values())
    ms.append(measure("check (all)", [*fs, "check"], a.runs, total_files, total_patches, ok=(0, 1)))
    res = subprocess.run([*fspatch_cmd(), "-C", str(ws), "check"], capture_output=True, text=True)
    print(f"fspatch check of the whole workspace: exit {res.returncode}"
          + (": " + (res.stdout + res.stderr).strip().splitlines()[-1] if (res.stdout + res.stderr).strip() else ""))
    print()
    print(fmt_table(ms).replace("tool    ", "what    ", 1))
    print()
    for b in have:
        ap_m = next(m for m in ms if m.tool == f"{b} apply")
        ck = next(m for m in ms if m.tool == f"{b} check")
        files, patches = info[b]
        print(f"TARGET: issue 8 | own series on real {b} ({patches} patches, {files:,} files): apply / check, peak RSS | "
              f"{ap_m.median:.3f} s / {ck.median:.3f} s, {max(ap_m.rss_kb, ck.rss_kb) / 1024:.0f} MiB | "
              f"{'figure' if same_by[b] else 'MISSED (stack tree differs from git apply)'}")
    print(f"\n(benchmark took {time.perf_counter() - t_start:.0f}s including data preparation)")
    return 0 if all(same_by.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
