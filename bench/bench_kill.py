"""Random kills across every changing verb: the state is always exactly before or after (issue 15).

Each run copies a prepared workspace, starts one changing verb as a real process, sends it
SIGKILL -- every other run after a random delay (45-100 % of the verb's own run time: the
interpreter start-up is the first half), the others at a random moment (0-25 % of the run
time) after the verb's journal appears, so the kills land in the steps that change things --
then runs ``fspatch recover`` when a journal was left (in the checkout's git dir or
the workspace's), and compares everything a user cares about --
workspace files, checkout files, index entries, HEAD, ``refs/fspatch/*`` -- with the state
before the verb and with the state a run without a kill ends in.  Figures: kills tried, states
exactly before, exactly after, neither, and bytes of the user's edits lost (must be 0).

Three prepared workspaces (all git repositories with one commit, so export has a head):
``edits`` -- the example's stack applied up to 0002, a vendor layer ``acme`` with one patch, a
user's staged, unstaged and untracked edits in the checkout (the stack verbs, export, import
quilt, fmt -- its vendor patch is not canonical --, vendor add/layer, export --out into the
workspace's ``out/``); ``clean`` -- the whole stack applied, no edits, an upstream with a clean ``v1.0.1`` and
the conflicting ``v1.1`` (pull-upstream: clean, stopping at the conflict, and a bot's
``--no-stop``); ``fresh`` -- a backend with no patches and a FlagScale-style repository to
import.

    python bench/bench_kill.py [--runs 200] [--seed 15]
"""

from __future__ import annotations

import argparse
import os
import random
import re
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

# (verb, the prepared workspace it runs in); {base} is the run's copy (the folder holding ws/).
VERBS: list[tuple[tuple[str, ...], str]] = [
    (("apply", "minillm"), "edits"),
    (("push", "-a"), "edits"),
    (("pop", "-a"), "edits"),
    (("goto", "0003"), "edits"),
    (("new", "extra", "-m", "Extra"), "edits"),
    (("refresh",), "edits"),
    (("delete", "0003"), "edits"),
    (("rename", "0001", "gems"), "edits"),
    (("export", "minillm", "--vendor", "acme"), "edits"),
    (("import", "quilt", "{base}/quilt", "-b", "minillm", "--vendor", "acme"), "edits"),
    (("pull-upstream", "minillm", "v1.0.1"), "clean"),
    (("pull-upstream", "minillm", "v1.1"), "clean"),
    (("pull-upstream", "minillm", "v1.1", "--no-stop"), "clean"),
    (("import", "flagscale", "{base}/FlagScale"), "fresh"),
    (("fmt",), "edits"),
    (("vendor", "add", "beta", "--device-type", "Beta_GPU", "--contact", "b@x"), "edits"),
    (("vendor", "layer", "acme", "minillm", "--task", "train", "--model", "Qwen3-8B"), "edits"),
    (("export", "minillm", "--vendor", "acme", "--out", "{base}/ws/out"), "edits"),
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


def _commit_workspace(root: Path) -> None:
    from scripts.example import git

    git(root, "init", "-q")
    git(root, "add", "-A", ".")
    git(root, "reset", "-q", "third_party")
    git(root, "commit", "-q", "-m", "workspace", date=1_700_000_000)


def _diff(upstream: Path, ref: str, changes: dict[str, bytes]) -> bytes:
    from tests.hardutil import git_diff_of

    def edit(tree: Path) -> None:
        for rel, data in changes.items():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (tree / rel).write_bytes(data)

    return git_diff_of(upstream, ref, edit, "--full-index")


def prepare(base: Path, env: dict[str, str], kind: str = "edits") -> Path:
    """A prepared workspace every run of a verb copies (see the module's docstring)."""
    os.environ.update(env)
    from click.testing import CliRunner

    from fspatch.cli import main_group
    from fspatch.commands import apply as apply_cmd
    from scripts.example import git
    from tests.wsutil import make_workspace

    def cli(*args: str) -> None:
        r = CliRunner().invoke(main_group, ["-C", str(w.root), *args])
        assert r.exit_code == 0, r.output

    w = make_workspace(base, patches=kind != "fresh")
    if kind == "fresh":
        fs = base / "FlagScale"
        common = fs / "flagscale/backends/MiniLLM/README.md.patch"
        common.parent.mkdir(parents=True)
        readme = (w.upstream / "README.md").read_bytes()
        common.write_bytes(_diff(w.upstream, "v1.0", {"README.md": readme + b"FlagScale common line\n"}))
        hw = fs / "hardware/Acme_NPU/MiniLLM"
        hw.mkdir(parents=True)
        vendor = {"README.md": readme + b"FlagScale common line\n", "minillm/acme.py": b"DEVICE = 'acme'\n"}
        (hw / "diff.patch").write_bytes(_diff(w.upstream, "v1.0", vendor))
        commit = w.ws().backend("minillm").commit
        (hw / "diff.yaml").write_text(
            f"backends_commit:\n  minillm: {commit}\nbackends_version:\n  minillm: v1\ncommit: {'ab' * 20}\n"
            "contact: Acme Team <t@acme.org>\ndevice_type: Acme_NPU\nmodels:\n- Qwen3-8B\ntask:\n- inference\n"
        )
        _commit_workspace(w.root)
        return w.root
    if kind == "clean":
        apply_cmd.run(w.ws(), "minillm")
        scratch = base / "scratch"
        git(base, "clone", "-q", str(w.upstream), str(scratch))
        git(scratch, "checkout", "-q", "v1.0")
        (scratch / "CHANGES.md").write_text("v1.0.1: a documentation fix\n")
        git(scratch, "add", "CHANGES.md")
        git(scratch, "commit", "-q", "-m", "v1.0.1", date=1_700_100_000)
        git(scratch, "tag", "v1.0.1")
        git(scratch, "push", "-q", "origin", "v1.0.1")
        shutil.rmtree(scratch)
        _commit_workspace(w.root)
        return w.root
    apply_cmd.run(w.ws(), "minillm", upto="0002")
    cli("vendor", "add", "acme", "--device-type", "Acme_NPU", "--contact", "a@x")
    cli("vendor", "layer", "acme", "minillm", "--task", "inference")
    layer = w.root / "vendors/acme/minillm"
    (layer / "0001-acme-device.patch").write_bytes(  # two files not canonical (trailing blanks): fmt
        b"Subject: [PATCH] Acme device\n---\n"
        + _diff(w.upstream, "v1.0", {"minillm/acme.py": b"DEVICE = 'acme'\n"})
    )
    (layer / "0002-acme-kernels.patch").write_bytes(
        b"Subject: [PATCH] Acme kernels\n---\n"
        + _diff(w.upstream, "v1.0", {"minillm/acme_kernels.py": b"KERNELS = ()\n"})
    )
    (layer / "series").write_text("0001-acme-device.patch\n0002-acme-kernels.patch\n")
    quilt = base / "quilt"
    quilt.mkdir()
    (quilt / "0001-quilt.patch").write_bytes(
        b"Subject: From quilt\n---\n" + _diff(w.upstream, "v1.0", {"minillm/quilt_added.py": b"X = 1\n"})
    )
    (quilt / "series").write_text("0001-quilt.patch\n")
    _commit_workspace(w.root)
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


def _difference(before: tuple[object, ...], after: tuple[object, ...], now: tuple[object, ...]) -> str:
    """What a state that is neither before nor after differs in, from both (file names, refs, index, HEAD)."""
    out = []
    for k, label in enumerate(("files", "refs", "index", "HEAD")):
        b, a, n = before[k], after[k], now[k]
        if n in (b, a):
            continue
        if isinstance(n, dict) and isinstance(b, dict) and isinstance(a, dict):
            keys = sorted(x for x in set(n) | set(b) | set(a) if n.get(x) != b.get(x) and n.get(x) != a.get(x))
            if not keys:
                as_a = sorted(x for x in set(n) | set(a) if n.get(x) == a.get(x) != b.get(x))
                as_b = sorted(x for x in set(n) | set(b) if n.get(x) == b.get(x) != a.get(x))
                keys = [f"as after: {as_a[:6]}, as before: {as_b[:6]}"]
            out.append(f"{label}: {', '.join(keys[:6])}")
        else:
            out.append(f"{label} differs")
    return "; ".join(out) or "a mix of before and after"


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


def _journal_left(root: Path) -> bool:
    return any(
        (root / where / ".git/fspatch/journal.json").exists() for where in (".", "third_party/minillm")
    )


def _argv(verb: tuple[str, ...], base: Path) -> list[str]:
    return [a.replace("{base}", str(base)) for a in verb]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=280)
    ap.add_argument("--seed", type=int, default=15)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    tmp = Path(tempfile.mkdtemp(prefix="fspatch-bench-kill-"))
    env = _env(tmp / "home")
    (tmp / "home").mkdir()
    templates = {kind: prepare(tmp / f"template-{kind}", env, kind) for kind in ("edits", "clean", "fresh")}
    before = {kind: state(root) for kind, root in templates.items()}
    after: dict[tuple[str, ...], tuple[object, ...]] = {}
    duration: dict[tuple[str, ...], float] = {}
    for verb, kind in VERBS:
        work = tmp / "ref"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(templates[kind].parent, work, symlinks=True)
        t0 = time.perf_counter()
        r = _fspatch(work / "ws", env, *_argv(verb, work))
        duration[verb] = time.perf_counter() - t0
        if r.returncode not in (0, 1) or "error" in r.stderr and r.returncode != 1:
            print(f"reference run of {' '.join(verb)} failed: {r.stderr.strip()}")
            return 1
        after[verb] = state(work / "ws")
        if after[verb] == before[kind]:
            print(f"reference run of {' '.join(verb)} changed nothing: the harness would prove nothing")
            return 1
    counts = {"before": 0, "after": 0, "neither": 0}
    lost = recovered = killed = after_journal = stale_locks = 0
    per_verb: dict[str, list[int]] = {}
    for i in range(a.runs):
        verb, kind = VERBS[i % len(VERBS)]
        work = tmp / "run"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(templates[kind].parent, work, symlinks=True)
        root = work / "ws"
        p = subprocess.Popen(
            [sys.executable, "-m", "fspatch", "-C", str(root), *_argv(verb, work)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        if (i // len(VERBS)) % 2 == 0:  # anywhere in the run (start-up is most of it: aim at the work)
            time.sleep(rng.uniform(0.45, 1.0) * duration[verb])
        else:  # after the journal is written: the steps that change things
            t0 = time.perf_counter()
            while p.poll() is None and not _journal_left(root) and time.perf_counter() - t0 < duration[verb] * 3:
                time.sleep(0.001)
            time.sleep(rng.uniform(0.0, 0.25) * duration[verb])
            after_journal += 1
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.wait()
        if (i + 1) % 20 == 0:
            print(f"  … {i + 1}/{a.runs} runs", file=sys.stderr, flush=True)
        if _journal_left(root):
            rec = _fspatch(root, env, "recover")
            lock = re.search(r"left (\S+\.lock): remove it", rec.stderr)
            if rec.returncode != 0 and lock:  # a kill inside libgit2's HEAD/ref write: do what the error says
                Path(lock.group(1)).unlink()
                stale_locks += 1
                rec = _fspatch(root, env, "recover")
            recovered += rec.returncode == 0
        now = state(root)
        kind_now = "before" if now == before[kind] else "after" if now == after[verb] else "neither"
        counts[kind_now] += 1
        if kind_now == "neither":
            print(f"  neither after {' '.join(verb)} (run {i}): {_difference(before[kind], after[verb], now)}",
                  file=sys.stderr, flush=True)
        lost += lost_bytes(before[kind], now)
        per_verb.setdefault(" ".join(verb).replace("{base}", "BASE"), [0, 0, 0])[
            ("before", "after", "neither").index(kind_now)
        ] += 1
    shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"runs: {a.runs} (half killed at a random time, half just after the journal was written: {after_journal}), "
        f"killed before finishing: {killed}, recovered from a journal: {recovered} "
        f"({stale_locks} after removing the .lock file a kill left, as the error says)"
    )
    for verb_name, (b, af, ne) in per_verb.items():
        print(f"  {verb_name:52s} before {b:3d}  after {af:3d}  neither {ne:3d}")
    print(f"exactly before: {counts['before']}, exactly after: {counts['after']}, neither: {counts['neither']}")
    print(f"bytes of user edits lost: {lost}")
    ok = counts["neither"] == 0 and lost == 0
    print(
        f"TARGET: issue 15 | random kills across {len(VERBS)} changing verbs: states exactly before or after, "
        f"0 bytes lost | {counts['before'] + counts['after']}/{a.runs} exact, {lost} bytes lost | "
        f"{'ok' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
