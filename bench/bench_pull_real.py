"""Benchmark: pull-upstream of FlagScale's real Megatron-LM series across a real upstream history with merges.

Issue 13.  The upstream is Megatron-LM's own history (GitLab-style merges of branches into
``main``); the series is FlagScale's current per-file Megatron-LM patch set
(``flagscale/backends/Megatron-LM/**.patch``, 72 patches, one file each), pinned by FlagScale's
gitlink ``third_party/Megatron-LM``.  Both come from local mirrors, nothing is fetched:

* ``--megatron`` (default ``$FSPATCH_MEGATRON_MIRROR`` or ``/work/.mirror/NVIDIA+Megatron-LM/repo``)
* ``--flagscale`` (default ``$FSPATCH_FLAGSCALE_MIRROR`` or ``/work/.mirror/FlagOpen+FlagScale/repo``)

The workspace (cached under ``$FSPATCH_BENCH_DIR/megatron-pull-<old>-<new>``) has the checkout
as a ``git clone --shared`` of the mirror at the old pin, the series as fspatch patch files
(``NNNN-<path>.patch``, series order = path order) and the stack applied.  Then, ``--runs``
times (median printed), each on a fresh copy:

* fspatch: the whole process ``fspatch -q -C WS pull-upstream megatron NEW --no-stop`` (peak RSS
  by GNU time);
* git: ``git checkout --detach NEW`` and one ``git cherry-pick`` per stack commit in the same
  order, ``git cherry-pick --abort`` after a conflict (what a script does), in a copy of the
  same checkout.

Checked on the first run: the same clean/conflict split patch by patch, and identical clean
trees (fspatch's rewritten clean patches, applied in order with ``git apply --index`` onto
NEW, give git's tree after each clean pick).  Targets: fspatch <= 0.25x git's time, >= 400
upstream commits between the pins, >= 20 conflicts.

    python bench/bench_pull_real.py [--old REV] [--new REV] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_tree  # noqa: E402
from bench_apply import fspatch_cmd, target, timed  # noqa: E402

MEGATRON = Path(os.environ.get("FSPATCH_MEGATRON_MIRROR", "/work/.mirror/NVIDIA+Megatron-LM/repo"))
FLAGSCALE = Path(os.environ.get("FSPATCH_FLAGSCALE_MIRROR", "/work/.mirror/FlagOpen+FlagScale/repo"))
SERIES_DIR = "flagscale/backends/Megatron-LM"
GITLINK = "third_party/Megatron-LM"
# The default new pin: 900 first-parent steps after FlagScale's pin on Megatron-LM's main.
DEFAULT_STEPS = 900


def log(msg: str) -> None:
    print(f"[bench_pull_real] {msg}", file=sys.stderr, flush=True)


def env() -> dict[str, str]:
    e = dict(os.environ, GIT_CONFIG_NOSYSTEM="1")
    e.update(GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.org",
             GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.org")
    return e


def sh(cwd: Path, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    out = subprocess.run(list(args), cwd=cwd, env=env(), capture_output=True, check=False)
    if out.returncode not in ok:
        raise SystemExit(f"{' '.join(args)} failed: {out.stderr.decode(errors='replace')[-2000:]}")
    return out.stdout.decode("utf-8", "replace")


def gitd(git_dir: Path, *args: str) -> str:
    return sh(Path("/"), "git", "--git-dir", str(git_dir), *args)


def pins(old: str | None, new: str | None) -> tuple[str, str]:
    if old is None:
        line = gitd(FLAGSCALE, "ls-tree", "HEAD", GITLINK).split()
        old = line[2]
    old = gitd(MEGATRON, "rev-parse", f"{old}^{{commit}}").strip()
    if new is None:
        fp = gitd(MEGATRON, "rev-list", "--first-parent", "--reverse", f"{old}..HEAD").split()
        new = fp[min(DEFAULT_STEPS, len(fp)) - 1]
    new = gitd(MEGATRON, "rev-parse", f"{new}^{{commit}}").strip()
    return old, new


def slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", path.removesuffix(".patch")).strip("-")


def prepare(old: str, new: str, fspatch: list[str]) -> Path:
    """The workspace at the old pin with FlagScale's series applied (cached)."""
    base = gen_tree.bench_dir() / f"megatron-pull-{old[:12]}-{new[:12]}"
    ws = base / "ws"
    if (base / "ready").exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    sh(base, *fspatch, "init", str(ws))
    co = ws / "third_party" / "megatron"
    co.parent.mkdir(parents=True, exist_ok=True)
    sh(base, "git", "clone", "-q", "--shared", "--no-checkout", str(MEGATRON), str(co))
    sh(co, "git", "checkout", "-q", "--detach", old)
    sh(ws, *fspatch, "-q", "-C", str(ws), "backend", "add", "megatron", "--url", str(MEGATRON), "--ref", old)
    series = ws / "series" / "megatron"
    names = []
    files = gitd(FLAGSCALE, "ls-tree", "-r", "--name-only", "HEAD", SERIES_DIR).split()
    for i, f in enumerate(sorted(files)):
        rel = f[len(SERIES_DIR) + 1:]
        diff = subprocess.run(["git", "--git-dir", str(FLAGSCALE), "show", f"HEAD:{f}"], capture_output=True,
                              check=True).stdout
        name = f"{i + 1:04d}-{slug(rel)}.patch"
        head = f"From: FlagScale <flagscale@baai.ac.cn>\nSubject: FlagScale: {rel.removesuffix('.patch')}\n\n---\n"
        (series / name).write_bytes(head.encode() + diff)
        names.append(name)
    (series / "series").write_text("".join(n + "\n" for n in names))
    sh(ws, *fspatch, "-q", "-C", str(ws), "apply", "megatron")
    (base / "ready").write_text(f"{old} {new}\n")
    return base


def stack_commits(co: Path) -> tuple[list[str], list[str]]:
    state = json.loads(sh(co, "git", "cat-file", "-p", "refs/fspatch/state:state.json"))
    applied = state["layers"][0]["applied"]
    return [p["name"] for p in applied], [p["commit"] for p in applied]


def git_loop(co: Path, new: str, commits: list[str]) -> tuple[float, list[str | None]]:
    """git checkout NEW + one cherry-pick per commit (abort on conflict): time and tree per pick."""
    t0 = time.perf_counter()
    sh(co, "git", "checkout", "-q", "--detach", new)
    trees: list[str | None] = []
    for c in commits:
        r = subprocess.run(["git", "cherry-pick", "--allow-empty", "--keep-redundant-commits", c], cwd=co, env=env(),
                           capture_output=True, check=False)
        if r.returncode == 0:
            trees.append("")
        else:
            subprocess.run(["git", "cherry-pick", "--abort"], cwd=co, env=env(), capture_output=True, check=False)
            trees.append(None)
    dt = time.perf_counter() - t0
    return dt, trees


def git_trees(co: Path, new: str, commits: list[str]) -> list[str | None]:
    """The same loop, untimed, recording the tree after each clean pick."""
    sh(co, "git", "checkout", "-q", "--detach", new)
    out: list[str | None] = []
    for c in commits:
        r = subprocess.run(["git", "cherry-pick", "--allow-empty", "--keep-redundant-commits", c], cwd=co, env=env(),
                           capture_output=True, check=False)
        if r.returncode == 0:
            out.append(sh(co, "git", "rev-parse", "HEAD^{tree}").strip())
        else:
            subprocess.run(["git", "cherry-pick", "--abort"], cwd=co, env=env(), capture_output=True, check=False)
            out.append(None)
    return out


def fspatch_trees(ws: Path, co: Path, new: str, names: list[str], statuses: dict[str, str]) -> list[str | None]:
    """fspatch's rewritten clean patches applied in order onto NEW with git: the tree after each."""
    sh(co, "git", "checkout", "-q", "--detach", new)
    out: list[str | None] = []
    for name in names:
        st = statuses[name]
        if st not in ("clean", "upstreamed"):
            out.append(None)
            continue
        patch = ws / "series" / "megatron" / name
        body = patch.read_bytes()
        if b"\ndiff --git " in b"\n" + body:
            sh(co, "git", "apply", "--index", "--allow-empty", str(patch))
        out.append(sh(co, "git", "write-tree").strip())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", help="old pin (default: FlagScale's gitlink third_party/Megatron-LM)")
    ap.add_argument("--new", help=f"new pin (default: {DEFAULT_STEPS} first-parent commits after the old one)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    if not (MEGATRON / "HEAD").exists() or not (FLAGSCALE / "HEAD").exists():
        print(f"mirrors missing ({MEGATRON}, {FLAGSCALE}): benchmark skipped")
        return 0
    fspatch = fspatch_cmd()
    old, new = pins(args.old, args.new)
    n_up = int(gitd(MEGATRON, "rev-list", "--count", f"{old}..{new}"))
    n_fp = int(gitd(MEGATRON, "rev-list", "--count", "--first-parent", f"{old}..{new}"))
    n_merges = int(gitd(MEGATRON, "rev-list", "--count", "--merges", f"{old}..{new}"))
    t0 = time.perf_counter()
    base = prepare(old, new, fspatch)
    ws0 = base / "ws"
    co0 = ws0 / "third_party" / "megatron"
    names, commits = stack_commits(co0)
    files = int(sh(co0, "git", "ls-files").count("\n"))
    print(f"Megatron-LM {old[:10]} -> {new[:10]}: {n_up:,} commits ({n_fp:,} first-parent, {n_merges:,} merges); "
          f"{files:,} files at the old pin; FlagScale series: {len(names)} patches (prepared in "
          f"{time.perf_counter() - t0:.1f} s)")
    # Bytecode as an installed fspatch has it (this machine sets PYTHONDONTWRITEBYTECODE); one warm-up
    # run, not counted, writes it and the schema-check cache.
    py_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    warm = base / "warm"
    shutil.rmtree(warm, ignore_errors=True)
    shutil.copytree(ws0, warm, symlinks=True)
    timed([*fspatch, "-q", "-C", str(warm), "pull-upstream", "megatron", new, "--no-stop"], env=py_env, ok=(0, 1))
    shutil.rmtree(warm)
    fs_times: list[float] = []
    git_times: list[float] = []
    rss = 0
    split_ok = trees_ok = None
    counts: dict[str, int] = {}
    for run in range(args.runs):
        ws = base / f"run-ws{run}"
        gw = base / f"run-git{run}"
        for d in (ws, gw):
            shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(ws0, ws, symlinks=True)
        shutil.copytree(co0, gw, symlinks=True)
        for d in (ws / "third_party" / "megatron", gw):  # a copy's index is stale: refresh it, untimed, for both
            sh(d, "git", "update-index", "-q", "--refresh", ok=(0, 1))
        report = base / f"report{run}.json"
        os.sync()  # the copies' writeback (two 5k-file checkouts) lands in neither side's time
        dt, r = timed([*fspatch, "-q", "-C", str(ws), "pull-upstream", "megatron", new, "--no-stop",
                       "--report", str(report), "--format", "json"], env=py_env, ok=(0, 1))
        fs_times.append(dt)
        rss = max(rss, r)
        os.sync()
        gdt, picks = git_loop(gw, new, commits)
        git_times.append(gdt)
        log(f"run {run + 1}: fspatch {dt:.3f} s, git {gdt:.3f} s")
        if run == 0:
            rep = json.loads(report.read_text())
            # A patch git conflicts on that fspatch proves already upstream (upstream_how: patch-id,
            # reverse-applies, carried) is a conflict in git's split: compare it as one.
            statuses = {p["patch"]: "conflict" if p.get("upstream_how") else p["status"] for p in rep["patches"]}
            counts = {k: v for k, v in rep["counts"].items() if v}
            git_split = ["conflict" if t is None else "clean" for t in picks]
            fs_split = ["conflict" if statuses[n] not in ("clean", "upstreamed") else "clean" for n in names]
            split_ok = git_split == fs_split
            if not split_ok:
                for n, a, b in zip(names, fs_split, git_split, strict=True):
                    if a != b:
                        print(f"  split differs: {n}: fspatch {statuses[n]}, git {b}")
            scratch = base / "scratch"
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.copytree(co0, scratch, symlinks=True)
            want = git_trees(scratch, new, commits)
            got = fspatch_trees(ws, scratch, new, names, statuses)
            bad = [n for n, a, b in zip(names, got, want, strict=True) if a is not None and b is not None and a != b]
            trees_ok = not bad and split_ok
            for n in bad:
                print(f"  tree differs after {n}")
            shutil.rmtree(scratch)
            conflicts = [n for n, s in zip(names, fs_split, strict=True) if s == "conflict"]
            print(f"split: {len(names) - len(conflicts)} clean, {len(conflicts)} conflicts "
                  f"({'same as git' if split_ok else 'DIFFERS from git'}); clean trees "
                  f"{'identical' if trees_ok else 'DIFFER'}; fspatch counts {counts}")
            for p in rep["patches"]:
                if p["status"] == "conflict":
                    for c in p["conflicts"][:1]:
                        cul = c["culprits"][0] if c["culprits"] else None
                        print(f"  {p['patch']}: {c['kind']} {c['path']}"
                              + (f" <- {cul['id'][:10]} {cul['subject'][:70]}" if cul else ""))
        shutil.rmtree(ws)
        shutil.rmtree(gw)
    f, g = statistics.median(fs_times), statistics.median(git_times)
    n_conf = counts.get("conflict", 0)
    print(f"fspatch pull-upstream (whole process): median {f:.3f} s  runs {', '.join(f'{x:.3f}' for x in fs_times)}"
          f"  peak RSS {rss / 1024:.0f} MiB")
    runs = ", ".join(f"{x:.3f}" for x in git_times)
    print(f"git checkout + {len(commits)} cherry-picks:  median {g:.3f} s  runs {runs}")
    print(f"ratio fspatch/git: {f / g:.3f}")
    what = (f"pull-upstream of FlagScale's {len(names)} Megatron-LM patches across {n_up:,} real commits "
            f"({n_conf} conflicts)")
    ok = f / g <= 0.25 and bool(split_ok) and bool(trees_ok) and n_up >= 400 and n_conf >= 20
    print(target("issue 13", f"{what} <= 0.25x git checkout + cherry-pick loop, same split, same trees",
                 f"{f / g:.2f}x ({f:.3f} s vs {g:.3f} s), {rss / 1024:.0f} MiB; split "
                 f"{'same' if split_ok else 'DIFFERS'}, trees {'identical' if trees_ok else 'DIFFER'}", ok))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
