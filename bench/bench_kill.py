"""Random kills across every changing stack verb: the state is always exactly before or after (issue 15).

Each run copies a prepared workspace (the embedded example, stack applied up to 0002, a user's
staged, unstaged and untracked edits in the checkout), starts one changing verb as a real
process, sends it SIGKILL after a random delay (45-100 % of the verb's own run time: the
interpreter start-up is the first half), runs
``fspatch recover`` when a journal was left, and compares everything a user cares about --
workspace files, checkout files, index entries, HEAD, ``refs/fspatch/*`` -- with the state
before the verb and with the state a run without a kill ends in.  Figures: kills tried, states
exactly before, exactly after, neither, and bytes of the user's edits lost (must be 0).

    python bench/bench_kill.py [--runs 200] [--seed 15]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pygit2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VERBS: list[tuple[str, ...]] = [
    ("apply", "minillm"),
    ("push", "-a"),
    ("pop", "-a"),
    ("goto", "0003"),
    ("new", "extra", "-m", "Extra"),
    ("refresh",),
    ("delete", "0003"),
    ("rename", "0001", "gems"),
]
USER_FILES = ("notes.txt", "README.md")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FSPATCH_", "GIT_"))}
    env.update(
        HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.org",
        GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.org",
    )  # fmt: skip
    return env


def _fspatch(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fspatch", "-C", str(root), *args], capture_output=True, text=True, env=env
    )


def prepare(base: Path, env: dict[str, str]) -> Path:
    """The template workspace every run copies."""
    os.environ.update(env)
    from fspatch.commands import apply as apply_cmd
    from scripts.example import git
    from tests.wsutil import make_workspace

    w = make_workspace(base)
    apply_cmd.run(w.ws(), "minillm", upto="0002")
    (w.checkout / "notes.txt").write_text("untracked notes\n")
    readme = w.checkout / "README.md"
    readme.write_text(readme.read_text() + "staged line\n")
    git(w.checkout, "add", "README.md")
    readme.write_text(readme.read_text() + "unstaged line\n")
    return w.root


def state(root: Path) -> tuple[object, ...]:
    """Everything a user cares about (index as entries: its stat data differs between copies)."""
    files = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if "/.git/" in f"/{rel}/" or rel.endswith("/.git") or rel == ".git":
            continue
        if p.is_symlink():
            files[rel] = b"-> " + os.readlink(p).encode()
        elif p.is_file():
            files[rel] = p.read_bytes()
    repo = pygit2.Repository(str(root / "third_party/minillm"))
    refs = {n: str(repo.references[n].target) for n in repo.references if n.startswith("refs/fspatch/")}
    repo.index.read(True)
    index = sorted((e.path, str(e.id), int(e.mode)) for e in repo.index)
    head = repo.references["HEAD"].target
    return files, refs, index, str(head)


def lost_bytes(before: tuple[object, ...], now: tuple[object, ...]) -> int:
    """Bytes of the user's own edits (untracked notes, staged+unstaged README lines) missing now."""
    b_files, n_files = before[0], now[0]
    assert isinstance(b_files, dict) and isinstance(n_files, dict)
    lost = 0
    for name in USER_FILES:
        key = f"third_party/minillm/{name}"
        old, new = b_files.get(key, b""), n_files.get(key, b"")
        for line in old.splitlines(keepends=True):
            if line not in new:
                lost += len(line)
    return lost


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=15)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    tmp = Path(tempfile.mkdtemp(prefix="fspatch-bench-kill-"))
    env = _env(tmp / "home")
    (tmp / "home").mkdir()
    template = prepare(tmp / "template", env)
    before = state(template)
    after: dict[tuple[str, ...], tuple[object, ...]] = {}
    duration: dict[tuple[str, ...], float] = {}
    for verb in VERBS:
        work = tmp / "ref"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(template.parent, work, symlinks=True)
        t0 = time.perf_counter()
        r = _fspatch(work / "ws", env, *verb)
        duration[verb] = time.perf_counter() - t0
        if r.returncode != 0:
            print(f"reference run of {' '.join(verb)} failed: {r.stderr.strip()}")
            return 1
        after[verb] = state(work / "ws")
    counts = {"before": 0, "after": 0, "neither": 0}
    lost = recovered = killed = 0
    per_verb: dict[str, list[int]] = {}
    for i in range(a.runs):
        verb = VERBS[i % len(VERBS)]
        work = tmp / "run"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(template.parent, work, symlinks=True)
        root = work / "ws"
        delay = rng.uniform(0.45, 1.0) * duration[verb]  # start-up is most of a run: aim at the work
        p = subprocess.Popen(
            [sys.executable, "-m", "fspatch", "-C", str(root), *verb],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        time.sleep(delay)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.wait()
        if (root / "third_party/minillm/.git/fspatch/txn.json").exists():
            rec = _fspatch(root, env, "recover")
            recovered += rec.returncode == 0
        now = state(root)
        kind = "before" if now == before else "after" if now == after[verb] else "neither"
        counts[kind] += 1
        lost += lost_bytes(before, now)
        per_verb.setdefault(" ".join(verb), [0, 0, 0])[("before", "after", "neither").index(kind)] += 1
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"runs: {a.runs}, killed before finishing: {killed}, recovered from a journal: {recovered}")
    for verb_name, (b, af, ne) in per_verb.items():
        print(f"  {verb_name:28s} before {b:3d}  after {af:3d}  neither {ne:3d}")
    print(f"exactly before: {counts['before']}, exactly after: {counts['after']}, neither: {counts['neither']}")
    print(f"bytes of user edits lost: {lost}")
    ok = counts["neither"] == 0 and lost == 0
    print(
        f"TARGET: issue 15 | random kills: states exactly before or after, 0 bytes lost | "
        f"{counts['before'] + counts['after']}/{a.runs} exact, {lost} bytes lost | {'ok' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
