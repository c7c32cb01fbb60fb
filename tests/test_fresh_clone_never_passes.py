"""A fresh clone of a workspace is set up by `sync`, and never silently passes `check` (issue 16, item 1).

``sync`` is to fspatch what ``git submodule update --init`` is to submodules: it recreates every
backend checkout from ``upstream.lock`` at its pinned commit.  A relative ``--url`` is stored as
typed and resolved against the workspace (then its ``origin``, as git does for submodule URLs),
so it still works from a clone made elsewhere.  ``check`` without the checkout it needs fails
with a clear line (exit 1) instead of passing; ``check --sync`` sets the checkout up first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tests.wsutil import WS, make_workspace

UNMARKED = (
    "From: Test Author <author@example.org>\n"
    "Subject: An unmarked change\n"
    "\n"
    "---\n"
    "diff --git a/minillm/model_runner.py b/minillm/model_runner.py\n"
    "--- a/minillm/model_runner.py\n"
    "+++ b/minillm/model_runner.py\n"
    "@@ -1,3 +1,4 @@\n"
    "+import sys  # not fenced in markers\n"
    ' """Model runner: loads a model and runs batches."""\n'
    " \n"
    " import os\n"
)


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def _committed_workspace(tmp_path: Path) -> WS:
    """The example workspace added with a relative URL, committed to git with third_party/ ignored."""
    w = make_workspace(tmp_path, patches=False)
    # re-add the backend as a person does it: from the workspace, with a relative URL
    shutil.rmtree(w.checkout)
    lock = w.root / "upstream.lock"
    lock.write_text(lock.read_text().split("backends:")[0] + "backends: {}\n")
    rel = os.path.relpath(w.upstream, w.root)
    r = w.cli("backend", "add", "minillm", "--url", rel, "--ref", "v1.0")
    assert r.exit_code == 0, r.output
    (w.root / ".gitignore").write_text("third_party/\n")
    _git(w.root, "init", "-q", "-b", "main")
    _git(w.root, "add", "-A")
    _git(w.root, "commit", "-q", "-m", "workspace")
    return w


def _clone(w: WS, where: Path) -> WS:
    where.parent.mkdir(parents=True, exist_ok=True)
    _git(where.parent, "clone", "-q", str(w.root), where.name)
    return WS(where, w.upstream)


def _only_v10_checkout(w: WS, tmp_path: Path) -> None:
    """Replace the checkout by a clone holding v1.0's history only (v1.1 must be fetched)."""
    _git(
        tmp_path,
        "clone",
        "-q",
        "--no-local",
        "--no-tags",
        "--single-branch",
        "--branch",
        "v1.0",
        str(w.upstream),
        "v10only",
    )
    shutil.rmtree(w.checkout)
    shutil.move(str(tmp_path / "v10only"), str(w.checkout))


def test_a_relative_url_is_stored_as_typed_and_keeps_working(tmp_path: Path) -> None:
    """backend add --url ../upstream stores '../upstream'; later fetches resolve it against the workspace."""
    w = _committed_workspace(tmp_path)
    assert "url: ../upstream\n" in (w.root / "upstream.lock").read_text()
    # a pull-upstream must fetch v1.1 through that URL (the old failure: "unsupported URL protocol")
    _only_v10_checkout(w, tmp_path)
    r = w.cli("pull-upstream", "minillm", "v1.1", "--no-stop")
    assert r.exit_code == 0, r.output
    assert "unsupported URL protocol" not in r.output


def test_sync_recreates_every_checkout_of_a_fresh_clone(tmp_path: Path) -> None:
    """In a clone made elsewhere, sync clones the upstream through the origin-relative URL at the pinned commit."""
    w = _committed_workspace(tmp_path)
    c = _clone(w, tmp_path / "elsewhere" / "clone")
    assert not c.checkout.exists()
    r = c.cli("sync")
    assert r.exit_code == 0, r.output
    pinned = _git(w.checkout, "rev-parse", "HEAD").strip()
    assert r.output.strip() == f"minillm: cloned into third_party/minillm, at v1.0 ({pinned[:12]})"
    assert _git(c.checkout, "rev-parse", "HEAD").strip() == pinned
    again = c.cli("sync")
    assert (
        again.exit_code == 0 and again.output.strip() == "minillm: third_party/minillm has v1.0 (" + pinned[:12] + ")"
    )
    # the fresh checkout is a valid applied state: new works at once
    assert c.cli("new", "first").exit_code == 0


def test_sync_fetches_a_pin_the_checkout_lacks(tmp_path: Path) -> None:
    """A checkout missing the pinned commit (the lock moved in git) gets it fetched; nothing else is touched."""
    w = _committed_workspace(tmp_path)
    v11 = _git(w.upstream, "rev-parse", "v1.1^{commit}").strip()
    _only_v10_checkout(w, tmp_path)
    assert subprocess.run(["git", "cat-file", "-e", v11], cwd=w.checkout).returncode != 0
    lock = w.root / "upstream.lock"
    old = _git(w.checkout, "rev-parse", "HEAD").strip()
    lock.write_text(lock.read_text().replace(old, v11).replace("ref: v1.0", "ref: v1.1"))
    r = w.cli("sync")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == f"minillm: fetched v1.1 ({v11[:12]}) into third_party/minillm"
    assert _git(w.checkout, "cat-file", "-t", v11).strip() == "commit"
    assert _git(w.checkout, "rev-parse", "HEAD").strip() == old  # the checkout's HEAD is the user's


def test_sync_with_an_unreachable_url_is_a_clear_error(tmp_path: Path) -> None:
    """The URL tried and the lock line are named; exit 2; nothing is left half-cloned."""
    w = _committed_workspace(tmp_path)
    c = _clone(w, tmp_path / "elsewhere" / "clone")
    lock = c.root / "upstream.lock"
    lock.write_text(lock.read_text().replace("url: ../upstream", "url: ../no-such-upstream"))
    r = c.cli("sync")
    assert r.exit_code == 2
    assert r.output.startswith("error: upstream.lock:") and "no-such-upstream" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    assert not c.checkout.exists()


def test_check_in_a_fresh_clone_fails_with_a_clear_line(tmp_path: Path) -> None:
    """No checkout: check exits 1 naming the backend and 'fspatch sync'; the old bug printed '1 findings', exit 0."""
    w = _committed_workspace(tmp_path)
    (w.series_dir / "0001-unmarked.patch").write_text(UNMARKED)
    (w.series_dir / "series").write_text("0001-unmarked.patch\n")
    _git(w.root, "add", "-A")
    _git(w.root, "commit", "-q", "-m", "an unmarked patch")
    c = _clone(w, tmp_path / "elsewhere" / "clone")
    r = c.cli("check")
    assert r.exit_code == 1, r.output
    assert "minillm" in r.output and "no checkout" in r.output and "fspatch sync" in r.output
    # git-free checks need no checkout and still pass
    r = c.cli("check", "--schemas", "--series")
    assert r.exit_code == 0, r.output
    # --sync sets the checkout up, then finds the unmarked change
    r = c.cli("check", "--sync")
    assert r.exit_code == 1, r.output
    assert "unmarked" in r.output and (c.checkout / ".git").exists()


def test_check_sync_passes_a_clean_fresh_clone(tmp_path: Path) -> None:
    """A clone whose layers are fine: check --sync clones and exits 0."""
    w = _committed_workspace(tmp_path)
    c = _clone(w, tmp_path / "elsewhere" / "clone")
    r = c.cli("check", "--sync")
    assert r.exit_code == 0, r.output


def test_the_pre_commit_hook_never_passes_in_a_fresh_clone(tmp_path: Path) -> None:
    """The hook's entry (from .pre-commit-hooks.yaml), run as pre-commit runs it in a clone: not 'Passed'."""
    hooks = (Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml").read_text()
    entry = next(line.split(":", 1)[1].strip() for line in hooks.splitlines() if line.strip().startswith("entry:"))
    assert entry.split()[0] == "fspatch"
    w = _committed_workspace(tmp_path)
    c = _clone(w, tmp_path / "elsewhere" / "clone")
    exe = Path(sys.executable).with_name("fspatch")
    r = subprocess.run([str(exe), *entry.split()[1:]], cwd=c.root, capture_output=True, text=True)
    assert r.returncode != 0, r.stdout + r.stderr
    assert "fspatch sync" in r.stdout + r.stderr


def test_sync_help_says_what_it_is(tmp_path: Path) -> None:
    """`fspatch sync --help` states its job in git's words and gives an example."""
    from fspatch.cli import main_group

    r = CliRunner().invoke(main_group, ["sync", "--help"])
    assert r.exit_code == 0
    assert "upstream.lock" in r.output and "Example" in r.output
