"""What a git and quilt user does first with a new workspace, found in the audit of issue 16.

``fspatch init`` writes a ``.gitignore`` for the checkouts, so the ``git add -A`` everyone types
never records ``third_party/<backend>`` as an embedded repository (a gitlink a clone cannot fill,
with git's own "embedded git repository" warning); ``sync`` recreates it in the clone instead.
An existing ``.gitignore`` is the user's and is kept byte for byte.  ``import quilt`` says the
patches went to the end of the layer and were not pushed, as ``quilt import`` does not push:
"applied on the layer's top" read as if they were applied.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scripts.example import common_patches, make_series
from tests.gitutil import git
from tests.wsutil import WS, make_workspace

FSPATCH = str(Path(sys.executable).with_name("fspatch"))


def _fspatch(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    return subprocess.run([FSPATCH, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_init_ignores_the_checkouts_so_git_add_never_embeds_one(tmp_path: Path) -> None:
    """init + backend add + `git add -A`: no checkout in the index; a clone gets it back from `sync`."""
    up = make_workspace(tmp_path / "example", patches=False).upstream
    r = _fspatch(tmp_path, "init", "ws")
    assert r.returncode == 0 and "created .gitignore" in r.stdout, r.stdout + r.stderr
    ws = tmp_path / "ws"
    r = _fspatch(ws, "backend", "add", "minillm", "--url", os.path.relpath(up, ws), "--ref", "v1.0")
    assert r.returncode == 0, r.stderr
    git(ws, "init", "-q", "-b", "main")
    git(ws, "add", "-A")
    git(ws, "commit", "-q", "-m", "workspace")
    index = git(ws, "ls-files", "-s").decode()
    assert "third_party" not in index and " 160000 " not in f" {index}", index
    assert git(ws, "status", "--porcelain").decode() == ""

    clone = tmp_path / "elsewhere" / "ws"
    clone.parent.mkdir()
    git(tmp_path, "clone", "-q", str(ws), str(clone))
    assert not (clone / "third_party").exists()
    r = _fspatch(clone, "sync")
    assert r.returncode == 0, r.stderr
    pinned = git(up, "rev-parse", "v1.0^{commit}").decode().strip()
    assert git(clone / "third_party" / "minillm", "rev-parse", "HEAD").decode().strip() == pinned
    assert git(clone, "status", "--porcelain").decode() == ""


def test_init_keeps_an_existing_gitignore(tmp_path: Path) -> None:
    """A folder with its own .gitignore keeps it unchanged, and init does not claim to create one."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".gitignore").write_bytes(b"build/\n*.pyc\n")
    r = _fspatch(root, "init")
    assert r.returncode == 0, r.stderr
    assert (root / ".gitignore").read_bytes() == b"build/\n*.pyc\n"
    assert ".gitignore" not in r.stdout and "created upstream.lock" in r.stdout


def test_import_quilt_says_the_patches_are_not_pushed(tmp_path: Path) -> None:
    """The import line says where the patches went and that they are unapplied; push -a applies them."""
    w: WS = make_workspace(tmp_path, patches=False)
    quilt = tmp_path / "quilt-patches"
    make_series(w.upstream, "v1.0", quilt, common_patches())
    names = (quilt / "series").read_text().split()
    assert w.cli("new", "first", "-m", "A first patch").exit_code == 0

    r = w.cli("import", "quilt", str(quilt), "--keep-names")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-1] == (
        "common/minillm: 3 patches imported at the end of the layer, checked to apply there, not pushed"
    )
    shown = w.cli("series").output.splitlines()
    assert shown[0].startswith("> ") and all(line.startswith("- ") for line in shown[1:]), shown
    r = w.cli("push", "-a")
    assert r.exit_code == 0 and r.output.splitlines()[-1] == f"Now at {names[-1]}", r.output
