"""Benchmark: pull-upstream of a 160-patch series on an 80,000-file tree across one big upstream step.

Issue 13: the per-patch cost must follow the patch, not the tree.  The tree and the series are
``gen_tree``'s (80,000 files, 160 patches, cached); the upstream step is one commit ``v2`` on
top of ``v1`` that changes about 1,300 files (edits at the top and the bottom of files, a few of
them files the patches touch, plus 20 deletions and 20 renames), written with ``git
fast-import`` into a copy of the upstream, cached under ``$FSPATCH_BENCH_DIR/pull-step-*``.

Timed, ``--runs`` times (median): the whole process ``fspatch -q -C WS pull-upstream minillm v2
--no-stop``, peak RSS by GNU time.  Between runs the workspace files, refs and checkout are put
back (untimed).  ``--git`` also times a ``git cherry-pick`` loop once (30-50 s).  Target: <= 1.5 s.

    python bench/bench_pull_step.py [--runs 3] [--files 80000] [--git]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_tree  # noqa: E402
from bench_apply import fspatch_cmd, run, target, timed  # noqa: E402

BACKEND = "minillm"
CHANGED = 1300


def log(msg: str) -> None:
    print(f"[bench_pull_step] {msg}", file=sys.stderr, flush=True)


def make_step(series: gen_tree.Series, dest: Path) -> None:
    """A copy of the upstream with v2 = v1 + one commit changing ~CHANGED files."""
    rng = random.Random(13)
    shutil.copytree(series.upstream, dest, symlinks=True)
    up = dest
    paths = gen_tree.git(up, "ls-tree", "-r", "--name-only", gen_tree.TAG).decode().split("\n")
    paths = [p for p in paths if p]
    touched: set[str] = set()
    for name in series.patch_names:
        for line in (series.patches_dir / name).read_text(errors="replace").splitlines():
            if line.startswith("+++ b/"):
                touched.add(line[6:])
    existing = [p for p in sorted(touched) if p in set(paths)]
    pick = set(rng.sample(existing, min(60, len(existing))))
    others = [p for p in paths if p not in touched]
    pick.update(rng.sample(others, CHANGED - len(pick)))
    gone = rng.sample([p for p in others if p not in pick], 40)
    deleted, renamed = gone[:20], gone[20:]
    batch = "".join(f"{gen_tree.TAG}:{p}\n" for p in sorted(pick))
    out = subprocess.run(["git", "-C", str(up), "cat-file", "--batch"], input=batch.encode(), capture_output=True,
                         check=True).stdout
    stream = [b"commit refs/heads/main\nmark :1\n",
              b"committer Upstream Dev <dev@upstream.example> %d +0000\n" % (gen_tree.DATE + 86400),
              b"data 14\nRelease 2 step\nfrom %s\n" % gen_tree.git(up, "rev-parse", gen_tree.TAG).strip()]
    pos = 0
    for p in sorted(pick):
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        body = out[header_end + 1: header_end + 1 + size]
        pos = header_end + 1 + size + 1
        lines = body.split(b"\n")
        if rng.random() < 0.5:
            lines.insert(0, b"# upstream v2 header")
        else:
            k = max(0, len(lines) - 3)
            lines[k] = lines[k] + b"  # upstream v2"
        data = b"\n".join(lines)
        stream.append(b"M 100644 inline %s\ndata %d\n%s\n" % (p.encode(), len(data), data))
    for p in deleted:
        stream.append(b"D %s\n" % p.encode())
    for p in renamed:
        stream.append(b"R %s %s\n" % (p.encode(), ("moved/" + p).encode()))
    stream.append(b"\nreset refs/tags/v2\nfrom :1\n\n")
    subprocess.run(["git", "-C", str(up), "fast-import", "--quiet"], input=b"".join(stream), check=True,
                   env=gen_tree.git_env())


def prepare(files: int) -> tuple[Path, gen_tree.Series]:
    series = gen_tree.generate(files=files, patches=160)
    base = gen_tree.bench_dir() / f"pull-step-f{files}-s1-g{gen_tree.GEN_VERSION}"
    if (base / "ready").exists():
        return base, series
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    t0 = time.perf_counter()
    make_step(series, base / "upstream.git")
    ws = base / "ws"
    fs = fspatch_cmd()
    run([*fs, "init", str(ws)])
    run([*fs, "-q", "-C", str(ws), "backend", "add", BACKEND, "--url", str(base / "upstream.git"), "--ref", "v1"])
    dst = ws / "series" / BACKEND
    dst.mkdir(parents=True, exist_ok=True)
    for name in series.patch_names:
        shutil.copyfile(series.patches_dir / name, dst / name)
    (dst / "series").write_text("".join(n + "\n" for n in series.patch_names))
    run([*fs, "-q", "-C", str(ws), "apply", BACKEND])
    run(["git", "-C", str(ws / "third_party" / BACKEND), "fetch", "-q", str(base / "upstream.git"),
         "+refs/tags/v2:refs/tags/v2"])
    saved = base / "saved"
    shutil.copytree(ws, saved, ignore=shutil.ignore_patterns("third_party"))
    co = ws / "third_party" / BACKEND
    refs = subprocess.run(["git", "-C", str(co), "for-each-ref", "--format=%(refname) %(objectname)", "refs/fspatch"],
                          capture_output=True, text=True, check=True).stdout
    head = subprocess.run(["git", "-C", str(co), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    (base / "state.json").write_text(json.dumps({"refs": refs.split("\n"), "head": head}))
    (base / "ready").write_text("ok\n")
    log(f"prepared in {time.perf_counter() - t0:.1f} s")
    return base, series


def restore(base: Path) -> None:
    """Put the workspace files, the fspatch refs and the checkout back as they were before a run."""
    ws = base / "ws"
    co = ws / "third_party" / BACKEND
    for item in (base / "saved").iterdir():
        dest = ws / item.name
        if dest.is_dir():
            shutil.rmtree(dest)
        elif dest.exists():
            dest.unlink()
        if item.is_dir():
            shutil.copytree(item, dest)
        else:
            shutil.copy2(item, dest)
    state = json.loads((base / "state.json").read_text())
    now = subprocess.run(["git", "-C", str(co), "for-each-ref", "--format=%(refname)", "refs/fspatch"],
                         capture_output=True, text=True, check=True).stdout.split()
    for name in now:
        subprocess.run(["git", "-C", str(co), "update-ref", "-d", name], check=True)
    for line in state["refs"]:
        if line:
            name, oid = line.split()
            subprocess.run(["git", "-C", str(co), "update-ref", name, oid], check=True)
    subprocess.run(["git", "-C", str(co), "checkout", "-q", "-f", "--detach", state["head"]], check=True)
    subprocess.run(["git", "-C", str(co), "update-index", "-q", "--refresh"], check=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--files", type=int, default=80_000)
    ap.add_argument("--git", action="store_true", help="also time a git cherry-pick loop once (slow)")
    args = ap.parse_args(argv)
    base, series = prepare(args.files)
    up = base / "upstream.git"
    n_changed = len(gen_tree.git(up, "diff", "--name-only", "v1", "v2").split())
    print(f"{args.files:,} files, {len(series.patch_names)} patches, upstream step v1 -> v2 changes {n_changed:,} "
          "files")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times: list[float] = []
    rss = 0
    counts: dict[str, int] = {}
    for i in range(args.runs + 1):  # the first run warms the caches (bytecode, schema check) and is not counted
        restore(base)
        report = base / "report.json"
        os.sync()  # the restored checkout's writeback is not in the time
        dt, r = timed([*fspatch_cmd(), "-q", "-C", str(base / "ws"), "pull-upstream", BACKEND, "v2", "--no-stop",
                       "--report", str(report), "--format", "json"], env=env, ok=(0, 1))
        if i:
            times.append(dt)
            rss = max(rss, r)
        counts = {k: v for k, v in json.loads(report.read_text())["counts"].items() if v}
        log(f"run {i}{' (warm-up)' if not i else ''}: {dt:.3f} s")
    f = statistics.median(times)
    print(f"fspatch pull-upstream (whole process): median {f:.3f} s  runs {', '.join(f'{x:.3f}' for x in times)}  "
          f"peak RSS {rss / 1024:.0f} MiB; {counts}")
    figure = f"{f:.3f} s, {rss / 1024:.0f} MiB ({counts.get('conflict', 0)} conflicts)"
    if args.git:
        restore(base)
        co = base / "ws" / "third_party" / BACKEND
        state = json.loads(subprocess.run(["git", "-C", str(co), "cat-file", "-p", "refs/fspatch/state:state.json"],
                                          capture_output=True, text=True, check=True).stdout)
        commits = [p["commit"] for p in state["layers"][0]["applied"]]
        t0 = time.perf_counter()
        subprocess.run(["git", "-C", str(co), "checkout", "-q", "--detach", "v2"], check=True)
        for c in commits:
            r2 = subprocess.run(["git", "-C", str(co), "cherry-pick", "--allow-empty", "--keep-redundant-commits", c],
                                capture_output=True, env=gen_tree.git_env(), check=False)
            if r2.returncode:
                subprocess.run(["git", "-C", str(co), "cherry-pick", "--abort"], capture_output=True, check=False)
        g = time.perf_counter() - t0
        print(f"git checkout v2 + {len(commits)} cherry-picks: {g:.3f} s; fspatch/git = {f / g:.3f}")
        figure += f"; git's pick loop {g:.1f} s"
        restore(base)
    print(target("issue 13", f"pull-upstream of 160 patches on {args.files // 1000}k files across a "
                 f"{n_changed:,}-file upstream step <= 1.5 s", figure, f <= 1.5))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
