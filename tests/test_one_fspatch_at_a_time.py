"""One changing fspatch at a time per checkout: a create-exclusive lock (issue 15, finding 3).

A second process gets one clear line naming the holder and changes nothing; a lock left by a
killed process (its pid gone on this host) is stale and taken over; and ``push -a`` racing
``pop -a`` (real processes) always ends with checkout files, HEAD and the state ref of one
and the same outcome, never an internal error.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pygit2

from fspatch.commands import apply as apply_cmd
from tests.hardutil import cli, one_error_line, tree_snapshot
from tests.wsutil import WS, make_workspace


def _lock(w: WS, pid: int, host: str | None = None) -> Path:
    path = w.checkout / ".git/fspatch/lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": 1, "pid": pid, "host": host or socket.gethostname(), "operation": "pop", "started": 0}))
    return path


def test_second_process_is_refused_naming_the_holder(tmp_path: Path) -> None:
    """A lock held by a live process: push is refused with one line naming pid, host and verb; nothing changes."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm", upto="0001")
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        path = _lock(w, sleeper.pid)
        before = tree_snapshot(w.root)
        r = cli(w.root, "push")
        line = one_error_line(r)
        assert r.exit_code == 2, r.output
        assert f"pid {sleeper.pid} on {socket.gethostname()}" in line and "'pop'" in line and str(path) in line, line
        assert tree_snapshot(w.root) == before
    finally:
        sleeper.kill()
        sleeper.wait()


def test_lock_of_a_dead_process_is_stale_and_taken_over(tmp_path: Path) -> None:
    """A lock left by a killed verb (pid gone on this host) does not block: the next verb runs and removes it."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm", upto="0001")
    dead = subprocess.Popen(["true"])
    dead.wait()
    path = _lock(w, dead.pid)
    r = cli(w.root, "push")
    assert r.exit_code == 0, r.output
    assert not path.exists()


def test_lock_from_another_host_is_never_guessed_stale(tmp_path: Path) -> None:
    """A lock taken on another host is refused with how to remove it; fspatch does not guess."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm", upto="0001")
    _lock(w, 1, "elsewhere.example")
    r = cli(w.root, "push")
    line = one_error_line(r)
    assert r.exit_code == 2 and "elsewhere.example" in line and "remove that file" in line, line


def _consistent(w: WS) -> None:
    """HEAD, the state ref's top and the checkout files all describe one outcome."""
    repo = pygit2.Repository(str(w.checkout))
    state = repo.references["refs/fspatch/state"].peel(pygit2.Commit)
    assert [str(p) for p in state.parent_ids] == [str(repo.head.target)]
    assert not repo.status(), repo.status()
    assert not (w.checkout / ".git/fspatch/txn.json").exists()


def test_push_and_pop_racing_end_in_one_outcome(tmp_path: Path) -> None:
    """push -a and pop -a started together, six times: each run exits 0 or 2 with a clear line, state consistent."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm", upto="0001")
    env = {k: v for k, v in os.environ.items() if k != "FSPATCH_CRASH_AT"}
    outcomes = set()
    for _ in range(6):
        procs = [
            subprocess.Popen([sys.executable, "-m", "fspatch", "-C", str(w.root), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for args in (("push", "-a"), ("pop", "-a"))
        ]
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode in (0, 2), (p.returncode, out, err)
            assert "internal error" not in err and "Traceback" not in err, err
            if p.returncode == 2:
                assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
            outcomes.add(p.returncode)
        _consistent(w)
        if cli(w.root, "series").exit_code != 0:
            raise AssertionError("workspace left unusable")
        apply_cmd.run(w.ws(), "minillm", upto="0001")
    assert 0 in outcomes
