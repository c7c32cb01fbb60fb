"""fmt, vendor add, vendor layer and export --out DIR killed half-way lose nothing (issue 15, phase 3).

Before, these were put back in memory when they failed, but a SIGKILL between two of their
writes left a half state nobody saw: some patches canonical and others not, a vendor layer
folder without its layer.yaml, some layers exported below DIR and others not.  Now the first
three are journalled in the workspace's git dir like export and import (``status`` names the
killed verb, every changing verb refuses over it, ``recover`` puts every byte back), and
``export --out DIR`` stages its files in the git dir and moves them into DIR only at the end,
so a killed export leaves DIR exactly as it was.  Each case kills the real CLI process at a
named step (``FSPATCH_CRASH_AT``) and first checks the half state is real (the test fails
without the journal), then that status, a refused ``new``, and recover do their part.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fspatch.commands import apply as apply_cmd
from scripts.example import git
from tests.wsutil import WS, make_workspace, snapshot


def _fspatch(root: Path, *args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FSPATCH_CRASH_AT"}
    if crash:
        env["FSPATCH_CRASH_AT"] = crash
    return subprocess.run([sys.executable, "-m", "fspatch", "-C", str(root), *args], capture_output=True, text=True, env=env)


def _commit(root: Path, message: str = "workspace") -> None:
    git(root, "add", "upstream.lock", "series", "vendors")
    git(root, "commit", "-q", "-m", message, date=1_700_000_000)


@pytest.fixture
def w(tmp_path: Path) -> WS:
    """The example applied, a vendor acme with a minillm layer, the workspace a git repository."""
    ws = make_workspace(tmp_path)
    apply_cmd.run(ws.ws(), "minillm")
    assert _fspatch(ws.root, "vendor", "add", "acme", "--device-type", "Acme_NPU", "--contact", "a@x").returncode == 0
    assert _fspatch(ws.root, "vendor", "layer", "acme", "minillm", "--task", "inference").returncode == 0
    git(ws.root, "init", "-q")
    _commit(ws.root)
    return ws


def _not_canonical(w: WS, *names: str) -> None:
    for name in names:
        p = w.series_dir / name
        p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n", 1))  # fmt rewrites it


CASES = [
    ("fmt", ("fmt",), "fmt:file"),
    ("vendor-add", ("vendor", "add", "beta", "--device-type", "Beta_GPU", "--contact", "b@x"), "vendor-add:file"),
    ("vendor-add", ("vendor", "add", "acme", "--contact", "new@x", "--description", "New"), "vendor-add:journal"),
    ("vendor-layer", ("vendor", "layer", "beta", "minillm", "--task", "train"), "vendor-layer:dir"),
    ("vendor-layer", ("vendor", "layer", "beta", "minillm", "--task", "train"), "vendor-layer:meta"),
    ("vendor-layer", ("vendor", "layer", "acme", "minillm", "--task", "train", "--model", "Qwen3-8B"), "vendor-layer:meta"),
]


@pytest.mark.parametrize(("op", "args", "step"), CASES, ids=[s + "-" + a[-1] for _o, a, s in CASES])
def test_killed_workspace_verb_is_shown_refused_and_recovered(
    w: WS, op: str, args: tuple[str, ...], step: str
) -> None:
    """Killed at the step: a half state is on disk, status names it, new is refused, recover puts it back."""
    _not_canonical(w, "0001-enable-flag-gems.patch", "0002-rmsnorm-block-size.patch")
    if args[:3] == ("vendor", "layer", "beta"):
        assert _fspatch(w.root, "vendor", "add", "beta", "--device-type", "Beta_GPU", "--contact", "b@x").returncode == 0
    _commit(w.root, "before")
    before = snapshot(w.root)
    r = _fspatch(w.root, *args, crash=step)
    assert r.returncode == -signal.SIGKILL, r.stderr
    if not step.endswith(":journal"):
        assert snapshot(w.root) != before  # the kill really left a half-done change behind
    status = _fspatch(w.root, "status")
    assert f"interrupted '{op}'" in status.stdout and "fspatch recover" in status.stdout, status.stdout
    new = _fspatch(w.root, "new", "foo", "-m", "Foo")
    assert new.returncode == 2 and "fspatch recover" in new.stderr and len(new.stderr.strip().splitlines()) == 1
    again = _fspatch(w.root, *args)
    assert again.returncode == 2 and "fspatch recover" in again.stderr
    rec = _fspatch(w.root, "recover")
    assert rec.returncode == 0, rec.stderr
    assert snapshot(w.root) == before
    assert not (w.root / ".git/fspatch/journal.json").exists()
    done = _fspatch(w.root, *args)
    assert done.returncode == 0, done.stderr
    if op == "fmt":
        assert done.stdout.count("rewrote ") == 2 and _fspatch(w.root, "check", "--canonical").returncode == 0


def test_failed_fmt_outside_a_git_workspace_is_still_put_back(tmp_path: Path) -> None:
    """No git dir to journal in: a failure half-way (the second file immutable) puts the first rewrite back."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("chattr +i needs root (CI runs these as root)")
    ws = make_workspace(tmp_path)
    assert not (ws.root / ".git").exists()
    _not_canonical(ws, "0001-enable-flag-gems.patch", "0002-rmsnorm-block-size.patch")
    second = ws.series_dir / "0002-rmsnorm-block-size.patch"
    before = snapshot(ws.root)
    if subprocess.run(["chattr", "+i", str(second)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported on this file system")
    try:
        r = _fspatch(ws.root, "fmt")
    finally:
        subprocess.run(["chattr", "-i", str(second)], capture_output=True)
    assert r.returncode == 2 and "0002-rmsnorm-block-size.patch" in r.stderr, r.stderr
    assert snapshot(ws.root) == before


def _export(w: WS, out: Path, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    return _fspatch(w.root, "export", "minillm", "--vendor", "acme", "--out", str(out), crash=crash)


@pytest.mark.parametrize("step", ["export:layer", "export:staged"])
def test_killed_export_out_leaves_the_out_dir_as_it_was(w: WS, tmp_path: Path, step: str) -> None:
    """export --out DIR killed after writing a layer: DIR byte for byte as before, nothing staged left in it."""
    layer = w.root / "vendors/acme/minillm"
    (layer / "0001-acme.patch").write_text(
        "Subject: Acme device\n---\ndiff --git a/minillm/acme.py b/minillm/acme.py\nnew file mode 100644\n"
        "--- /dev/null\n+++ b/minillm/acme.py\n@@ -0,0 +1 @@\n+DEVICE = 'acme'\n"
    )
    (layer / "series").write_text("0001-acme.patch\n")
    _commit(w.root, "acme device")
    out = tmp_path / "FlagScale-hardware"
    out.mkdir()
    (out / "README.md").write_text("the user's own file in DIR\n")
    first = _export(w, out)
    assert first.returncode == 0, first.stderr
    # A newer acme layer: the next export would rewrite diff.patch, diff.yaml and the history.
    (layer / "0001-acme.patch").write_text((layer / "0001-acme.patch").read_text().replace("'acme'", "'acme2'"))
    _commit(w.root, "acme device 2")
    out_before, ws_before = snapshot(out), snapshot(w.root)
    r = _export(w, out, crash=step)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert snapshot(out) == out_before  # nothing of the killed export reached DIR
    assert not list(out.parent.glob(".*staged*"))  # and nothing was written beside it
    assert "interrupted 'export'" in _fspatch(w.root, "status").stdout
    assert _fspatch(w.root, "recover").returncode == 0
    assert snapshot(w.root) == ws_before and snapshot(out) == out_before
    again = _export(w, out)
    assert again.returncode == 0, again.stderr
    assert b"'acme2'" in (out / "acme/minillm/diff.patch").read_bytes()
    assert (out / "README.md").read_text() == "the user's own file in DIR\n"
    assert not (w.root / ".git/fspatch/staged").exists()  # the killed run's staging was swept


def test_killed_export_into_a_new_out_dir_leaves_no_dir(w: WS, tmp_path: Path) -> None:
    """DIR did not exist: after the kill it still does not (no empty folders either)."""
    out = tmp_path / "new-out"
    r = _export(w, out, crash="export:layer")
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert not out.exists()


def test_workspace_journal_is_shown_for_a_backend_without_checkout(w: WS, tmp_path: Path) -> None:
    """A fresh clone of the workspace (no third_party checkout): a killed vendor add is still shown."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(w.root), str(clone))
    assert not (clone / "third_party/minillm").exists()
    r = _fspatch(clone, "vendor", "add", "beta", "--device-type", "Beta_GPU", "--contact", "b@x", crash="vendor-add:file")
    assert r.returncode == -signal.SIGKILL, r.stderr
    status = _fspatch(clone, "status")
    assert status.returncode == 0, status.stderr
    assert "no checkout" in status.stdout and "interrupted 'vendor-add'" in status.stdout, status.stdout
    assert "fspatch recover" in status.stdout
    js = _fspatch(clone, "status", "--format", "json")
    assert "interrupted 'vendor-add'" in js.stdout, js.stdout
    assert _fspatch(clone, "recover").returncode == 0
    assert not (clone / "vendors/beta").exists()
    assert "interrupted" not in _fspatch(clone, "status").stdout


@pytest.mark.parametrize(
    ("args", "temp"),
    [(("fmt",), "0002-rmsnorm-block-size.patch"), (("new", "extra", "-m", "Extra"), "series")],
    ids=["fmt", "new"],
)
def test_kill_inside_an_atomic_write_leaves_no_temp_copy_after_recover(
    w: WS, args: tuple[str, ...], temp: str
) -> None:
    """Killed between writing a file's temporary copy and renaming it (seen by bench_kill on fmt):
    recover removes the half-written ``.<name>.<hex>.tmp`` too, so the workspace is exactly as before."""
    _not_canonical(w, "0001-enable-flag-gems.patch", "0002-rmsnorm-block-size.patch")
    _commit(w.root, "before")
    before = snapshot(w.root)
    r = _fspatch(w.root, *args, crash=f"temp:{temp}")
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert list(w.series_dir.glob(f".{temp}.*.tmp"))  # the kill really left the temporary copy
    rec = _fspatch(w.root, "recover")
    assert rec.returncode == 0, rec.stderr
    assert snapshot(w.root) == before
