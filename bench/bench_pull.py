"""Benchmark: pull-upstream of a 70-patch series across 2,000+ upstream commits vs a git cherry-pick loop.

Generates (in a temp dir, never committed) an upstream of 3,000 files whose history has
2,100 commits after tag v1 (tag v2 at the tip), a workspace pinning v1 with a 70-patch
common layer, applies it, then times, 3 runs each, medians printed:

* fspatch: the whole process ``fspatch -q -C ws pull-upstream minillm v2 --no-stop``
  (start-up, old stack rebuilt from the patch files, replay, patch files and lock
  rewritten, checkout moved to the new stack), and its peak RSS (GNU ``time``);
* git: ``git checkout --detach v2`` then ``git cherry-pick`` of the same 70 stack commits,
  one process per pick (the loop a script would run), in a copy of the same checkout.

Run: ``python bench/bench_pull.py`` (``make bench`` runs it); ``--keep DIR`` builds everything in
DIR (which must not exist) and leaves it there, so the pristine workspace ``DIR/ws`` can be
copied and profiled afterwards (timings are the same either way).  Targets: fspatch <= 1 s and
<= 0.25x git's time.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_apply import fspatch_cmd, target, timed  # noqa: E402

N_FILES = 3000
N_COMMITS = 2100
N_PATCHES = 70
LINES = 30
RUNS = 3


def sh(cwd: Path, *args: str, env: dict[str, str] | None = None, input: bytes | None = None) -> str:
    out = subprocess.run(list(args), cwd=cwd, env=env, input=input, capture_output=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {out.stderr.decode(errors='replace')}")
    return out.stdout.decode()


def gen_upstream(path: Path, rng: random.Random) -> None:
    """A fast-import stream: v1 with N_FILES files, then N_COMMITS small commits, tag v2."""
    files = {f"pkg{i % 60:02d}/mod{i:04d}.py": [f"# mod{i} line {k}\n" for k in range(LINES)] for i in range(N_FILES)}
    out: list[bytes] = []
    mark = 0
    when = 1_700_000_000

    def commit(msg: str, changes: dict[str, list[str]]) -> None:
        nonlocal mark, when
        mark += 1
        when += 60
        m = msg.encode()
        out.append(b"commit refs/heads/main\nmark :%d\n" % mark)
        out.append(b"committer Up <up@example.org> %d +0000\ndata %d\n%s\n" % (when, len(m), m))
        if mark > 1:
            out.append(b"from :%d\n" % (mark - 1))
        for p, body in changes.items():
            data = "".join(body).encode()
            out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (p.encode(), len(data), data))

    commit("Initial import", files)
    v1 = mark
    names = sorted(files)
    for n in range(N_COMMITS):
        changes = {}
        for _ in range(rng.randint(1, 3)):
            p = rng.choice(names)
            body = files[p]
            k = rng.randrange(15, LINES)  # upstream works in the lower half of each file
            if rng.random() < 0.3:
                body.insert(k, f"# upstream {n} inserted\n")
            else:
                body[k] = f"# upstream {n} changed line {k}\n"
            changes[p] = list(body)
        if n % 50 == 0:  # shifts: upstream also grows the top of some patched files
            p = names[rng.randrange(N_PATCHES)]
            files[p].insert(0, f"# upstream header {n}\n")
            changes[p] = list(files[p])
        commit(f"Upstream change {n}", changes)
    out.append(b"reset refs/tags/v1\nfrom :%d\n\n" % v1)
    out.append(b"reset refs/tags/v2\nfrom :%d\n\n" % mark)
    path.mkdir(parents=True)
    sh(path, "git", "init", "-q", "-b", "main")
    sh(path, "git", "fast-import", "--quiet", input=b"".join(out))
    sh(path, "git", "checkout", "-q", "main")


def make_workspace(root: Path, up: Path, rng: random.Random, fspatch: list[str]) -> None:
    sh(root.parent, *fspatch, "init", str(root))
    sh(root, *fspatch, "-C", str(root), "backend", "add", "minillm", "--url", str(up), "--ref", "v1")
    scratch = root.parent / "scratch"
    sh(root.parent, "git", "clone", "-q", str(up), str(scratch))
    sh(scratch, "git", "checkout", "-q", "v1")
    series = root / "series" / "minillm"
    names = []
    targets = sorted(p.relative_to(scratch).as_posix() for p in scratch.glob("pkg*/*.py"))[:N_PATCHES]
    for i, target in enumerate(targets):
        f = scratch / target
        body = f.read_text().splitlines(keepends=True)
        body[3] = f"# FLAGSCALE patch {i}\n"
        body.insert(6, f"flag_{i} = True\n")
        f.write_text("".join(body))
        diff = sh(scratch, "git", "diff", "--full-index")
        sh(scratch, "git", "commit", "-qam", f"patch {i}")
        name = f"{i + 1:04d}-patch-{i}.patch"
        (series / name).write_text(
            f"From: Bench <bench@example.org>\nSubject: Patch {i}\n\nBenchmark patch {i}.\n---\n" + diff
        )
        names.append(name)
    (series / "series").write_text("".join(n + "\n" for n in names))
    sh(root, *fspatch, "-q", "-C", str(root), "apply", "minillm")


def main() -> None:
    rng = random.Random(7)
    fspatch = fspatch_cmd()
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="B", GIT_AUTHOR_EMAIL="b@x",
               GIT_COMMITTER_NAME="B", GIT_COMMITTER_EMAIL="b@x")
    os.environ.update(env)
    keep = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
    if keep is not None:
        Path(keep).mkdir(parents=True)
    with (contextlib.nullcontext(keep) if keep else tempfile.TemporaryDirectory(prefix="fspatch-bench-")) as tmp:
        base = Path(tmp)
        t0 = time.perf_counter()
        gen_upstream(base / "up", rng)
        make_workspace(base / "ws", base / "up", rng, fspatch)
        state = sh(base / "ws/third_party/minillm", "git", "cat-file", "-p", "refs/fspatch/state:state.json")
        import json

        commits = [p["commit"] for p in json.loads(state)["layers"][0]["applied"]]
        n_up = int(sh(base / "up", "git", "rev-list", "--count", "v1..v2"))
        print(f"generated in {time.perf_counter() - t0:.1f} s: {N_FILES} files, {n_up} upstream commits v1..v2, "
              f"{len(commits)} patches")
        fs_times, git_times, git_loop_times = [], [], []
        fs_rss = 0
        for run in range(RUNS):
            ws = base / f"ws{run}"
            shutil.copytree(base / "ws", ws, symlinks=True)
            # a copy's index is stale (new inodes and ctimes): refreshed untimed, as bench_pull_real does, for both
            sh(ws / "third_party/minillm", "git", "update-index", "-q", "--refresh")
            os.sync()  # the copies' writeback lands in neither side's time
            try:
                dt, rss = timed([*fspatch, "-q", "-C", str(ws), "pull-upstream", "minillm", "v2", "--no-stop"])
            except RuntimeError as exc:
                raise SystemExit(f"fspatch failed: {exc}") from None
            fs_times.append(dt)
            fs_rss = max(fs_rss, rss)
            gw = base / f"git{run}"
            shutil.copytree(base / "ws/third_party/minillm", gw, symlinks=True)
            sh(gw, "git", "update-index", "-q", "--refresh")
            os.sync()
            t = time.perf_counter()
            sh(gw, "git", "checkout", "-q", "--detach", "v2")
            t_loop = time.perf_counter()
            for c in commits:
                sh(gw, "git", "cherry-pick", "--allow-empty", "--keep-redundant-commits", c)
            end = time.perf_counter()
            git_times.append(end - t)
            git_loop_times.append(end - t_loop)
            # Same result: fspatch's new stack tree == git's after the last pick.
            ours = sh(ws / "third_party/minillm", "git", "rev-parse", "HEAD^{tree}").strip()
            theirs = sh(gw, "git", "rev-parse", "HEAD^{tree}").strip()
            if ours != theirs:
                raise SystemExit(f"trees differ: fspatch {ours} git {theirs}")
            shutil.rmtree(ws)
            shutil.rmtree(gw)
        f, g, gl = statistics.median(fs_times), statistics.median(git_times), statistics.median(git_loop_times)
        print(f"fspatch pull-upstream (whole process):     median {f:.3f} s  runs {', '.join(f'{x:.3f}' for x in fs_times)}"
              f"  peak RSS {fs_rss / 1024:.0f} MiB")
        print(f"git checkout v2 + {len(commits)} cherry-picks:         median {g:.3f} s  runs {', '.join(f'{x:.3f}' for x in git_times)}")
        print(f"git cherry-pick loop only:                 median {gl:.3f} s")
        print(f"ratio fspatch/git: {f / g:.3f}  (vs the loop only: {f / gl:.3f}); identical final trees")
        print(f"targets: <= 1 s {'OK' if f <= 1 else 'MISSED'}, <= 0.25x git {'OK' if f / g <= 0.25 else 'MISSED'}")
        what = f"pull-upstream of {len(commits)} patches across {n_up:,} commits"
        print(target("issue 5", f"{what} <= 1 s", f"{f:.3f} s, {fs_rss / 1024:.0f} MiB", f <= 1))
        print(target("issue 5", f"{what} <= 0.25x git checkout + cherry-pick loop",
                     f"{f / g:.2f}x ({f:.3f} s vs {g:.3f} s; vs the picks alone {f / gl:.2f}x)", f / g <= 0.25))


if __name__ == "__main__":
    main()
