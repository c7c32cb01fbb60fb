"""A ``.lock`` file a killed git (or fspatch) left in the checkout's git dir: named, with what to do.

bench_kill met it: a pull-upstream killed while libgit2 held ``HEAD.lock`` left the lock, and
``fspatch recover`` then failed on "failed to lock file" with no advice.  The error now names
the file and says to remove it when no git process is running (git's own advice); fspatch never
removes it itself, since only the user knows whether another git command is at work.
"""

from __future__ import annotations

import signal
from pathlib import Path

from fspatch.commands import apply as apply_cmd
from tests.test_crash_safety import _everything, _fspatch
from tests.wsutil import make_workspace


def test_recover_names_a_lock_a_killed_process_left_and_works_once_it_is_gone(tmp_path: Path) -> None:
    w = make_workspace(tmp_path)
    assert _fspatch(w, "delete", "0002").returncode == 0
    apply_cmd.run(w.ws(), "minillm")
    before = _everything(w)
    r = _fspatch(w, "pull-upstream", "minillm", "v1.1", "--no-stop", crash="pull-upstream:checkout")
    assert r.returncode == -signal.SIGKILL, r.stderr
    lock = w.checkout / ".git" / "HEAD.lock"
    lock.write_text("ref: refs/heads/main\n")  # what a process killed inside libgit2's HEAD write leaves
    rec = _fspatch(w, "recover")
    assert rec.returncode != 0
    lines = rec.stderr.strip().splitlines()
    assert len(lines) == 1, rec.stderr
    assert str(lock) in lines[0] and "remove it and run the command again" in lines[0], lines[0]
    assert "Traceback" not in rec.stderr
    lock.unlink()
    rec = _fspatch(w, "recover")
    assert rec.returncode == 0, rec.stderr
    assert _everything(w) == before
