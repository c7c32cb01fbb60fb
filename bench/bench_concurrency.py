"""Two changing verbs at once on one checkout: one outcome, clear refusals, no internal error (issue 15).

Each round resets the example workspace to the stack applied up to 0001 and starts two real
processes together, drawn from pairs of changing verbs (``push -a`` / ``pop -a``, ``goto`` /
``refresh``, ``new`` / ``push -a`` …).  Afterwards HEAD must be the state ref's top, the checkout
must have no change against HEAD, no journal or lock may be left, each process must have exited 0 or
with one ``error:`` line (the lock's holder, or "the stack changed meanwhile"), never 3.

    python bench/bench_concurrency.py [--rounds 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pygit2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_kill import _env  # noqa: E402

PAIRS: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("push", "-a"), ("pop", "-a")),
    (("goto", "0003"), ("pop", "-a")),
    (("push",), ("refresh",)),
    (("new", "extra", "-m", "Extra"), ("push", "-a")),
    (("apply", "minillm"), ("pop", "-a")),
    (("vendor", "add", "acme", "--device-type", "Acme_NPU", "--contact", "a@x"), ("new", "other", "-m", "Other")),
    (("fmt",), ("push", "-a")),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=60)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fspatch-bench-conc-"))
    (tmp / "home").mkdir()
    env = _env(tmp / "home")
    os.environ.update(env)
    from fspatch.commands import apply as apply_cmd
    from tests.wsutil import make_workspace

    w = make_workspace(tmp)
    both_ok = refused = bad = inconsistent = 0
    for i in range(a.rounds):
        for p in [*w.series_dir.glob("*extra*.patch"), *w.series_dir.glob("*other*.patch")]:
            p.unlink()
            series = w.series_dir / "series"
            keep = [line for line in series.read_text().split() if "extra" not in line and "other" not in line]
            series.write_text("".join(line + "\n" for line in keep))
        apply_cmd.run(w.ws(), "minillm", upto="0001", force=True)
        first, second = PAIRS[i % len(PAIRS)]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "fspatch", "-C", str(w.root), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for args in (first, second)
        ]
        codes = []
        for p in procs:
            _, err = p.communicate(timeout=300)
            codes.append(p.returncode)
            if p.returncode not in (0, 2) or "internal error" in err or "Traceback" in err:
                bad += 1
                print(f"round {i}: exit {p.returncode}: {err.strip()[:200]}")
            elif p.returncode == 2:
                refused += 1
        both_ok += codes == [0, 0]
        repo = pygit2.Repository(str(w.checkout))
        state = repo.references["refs/fspatch/state"].peel(pygit2.Commit)
        journal = (w.checkout / ".git/fspatch/journal.json").exists()
        journal |= (w.checkout / ".git/fspatch/lock").exists() or (w.root / ".fspatch.lock").exists()
        if [str(x) for x in state.parent_ids] != [str(repo.head.target)] or repo.status() or journal:
            inconsistent += 1
            print(f"round {i}: inconsistent ({' '.join(first)} / {' '.join(second)}): status {repo.status()}")
    print(f"rounds: {a.rounds}, both succeeded: {both_ok}, refused with one clear line: {refused}")
    print(f"internal errors or bad exits: {bad}, rounds left inconsistent: {inconsistent}")
    ok = bad == 0 and inconsistent == 0
    print(
        f"TARGET: issue 15 | concurrent verbs: one outcome, clear refusals | "
        f"{a.rounds - inconsistent}/{a.rounds} consistent, {bad} internal errors | {'ok' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
