"""A journal left by a killed export or import is seen by status and refused by stack verbs (issue 15, finding 1).

export and import keep their journal in the workspace's own git dir.  Before, a kill after it
was written left it invisible: status said nothing, ``fspatch new foo`` ran, and the next
``recover`` deleted ``0004-foo.patch`` and its series line.  Now status names it and what to
run, every stack verb refuses over it, and recover puts the workspace back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fspatch.commands import apply as apply_cmd
from scripts.example import git
from tests.wsutil import WS, make_workspace, snapshot


def _fspatch(w: WS, *args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FSPATCH_CRASH_AT"}
    if crash:
        env["FSPATCH_CRASH_AT"] = crash
    return subprocess.run([sys.executable, "-m", "fspatch", "-C", str(w.root), *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("step", ["export:journal", "export:layer"])
def test_killed_export_is_shown_refused_and_recovered(tmp_path: Path, step: str) -> None:
    """export killed after its journal: status says 'run fspatch recover', new is refused, recover restores."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    assert _fspatch(w, "vendor", "add", "acme", "--device-type", "Acme_NPU", "--contact", "a@x").returncode == 0
    assert _fspatch(w, "vendor", "layer", "acme", "minillm", "--task", "inference").returncode == 0
    git(w.root, "init", "-q")
    git(w.root, "add", "upstream.lock", "series", "vendors")
    git(w.root, "commit", "-q", "-m", "workspace", date=1_700_000_000)
    before = snapshot(w.root)
    r = _fspatch(w, "export", "minillm", "--vendor", "acme", crash=step)
    assert r.returncode == -signal.SIGKILL, r.stderr
    status = _fspatch(w, "status")
    assert status.returncode == 0 and "interrupted 'export'" in status.stdout and "fspatch recover" in status.stdout
    new = _fspatch(w, "new", "foo", "-m", "Foo")
    assert new.returncode == 2 and "fspatch recover" in new.stderr and len(new.stderr.strip().splitlines()) == 1
    assert not (w.series_dir / "0004-foo.patch").exists()
    rec = _fspatch(w, "recover")
    assert rec.returncode == 0, rec.stderr
    assert snapshot(w.root) == before
    assert _fspatch(w, "new", "foo", "-m", "Foo").returncode == 0


def test_bot_replay_killed_half_way_is_reported_as_interrupted_not_as_a_conflict(tmp_path: Path) -> None:
    """pull-upstream --no-stop killed mid-way: status says interrupted and 'recover', never 'stopped at a conflict'."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    r = _fspatch(w, "pull-upstream", "minillm", "v1.1", "--no-stop", crash="pull-upstream:patches")
    assert r.returncode == -signal.SIGKILL, r.stderr
    status = _fspatch(w, "status")
    assert status.returncode == 0, status.stderr
    assert "interrupted 'pull-upstream'" in status.stdout and "fspatch recover" in status.stdout, status.stdout
    assert "stopped at a conflict" not in status.stdout
    assert _fspatch(w, "abort").returncode == 0


def test_interactive_stop_is_still_reported_as_a_conflict(tmp_path: Path) -> None:
    """A replay that really stopped at a conflict keeps its message: continue, skip or abort."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    r = _fspatch(w, "pull-upstream", "minillm", "v1.1", "--stop")
    assert r.returncode == 1, r.stdout + r.stderr
    status = _fspatch(w, "status")
    assert "stopped at a conflict" in status.stdout, status.stdout


@pytest.mark.parametrize("step", ["import:journal", "import:patch", "import:series"])
def test_killed_import_is_shown_refused_and_recovered(tmp_path: Path, step: str) -> None:
    """import quilt killed after its journal: status names it, new is refused, recover puts the layer back."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    assert _fspatch(w, "vendor", "add", "acme", "--device-type", "Acme_NPU", "--contact", "a@x").returncode == 0
    assert _fspatch(w, "vendor", "layer", "acme", "minillm", "--task", "inference").returncode == 0
    git(w.root, "init", "-q")
    git(w.root, "add", "upstream.lock", "series", "vendors")
    git(w.root, "commit", "-q", "-m", "workspace", date=1_700_000_000)
    src = tmp_path / "quilt"
    src.mkdir()
    for i, name in enumerate(("0001-a.patch", "0002-b.patch")):
        (src / name).write_text(
            f"Subject: {name}\n---\ndiff --git a/new{i}.txt b/new{i}.txt\nnew file mode 100644\n"
            f"--- /dev/null\n+++ b/new{i}.txt\n@@ -0,0 +1 @@\n+line {i}\n"
        )
    (src / "series").write_text("0001-a.patch\n0002-b.patch\n")
    before = snapshot(w.root)
    r = _fspatch(w, "import", "quilt", str(src), "-b", "minillm", "--vendor", "acme", crash=step)
    assert r.returncode == -signal.SIGKILL, r.stderr
    status = _fspatch(w, "status")
    assert "interrupted 'import': run 'fspatch recover'" in status.stdout, status.stdout
    new = _fspatch(w, "new", "foo", "-m", "Foo")
    assert new.returncode == 2 and "fspatch recover" in new.stderr
    rec = _fspatch(w, "recover")
    assert rec.returncode == 0, rec.stderr
    assert snapshot(w.root) == before
