"""A bot replay's conflicts are workspace data: a fresh clone of the bot's branch can finish them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.commands import resolve
from fspatch.core.workspace import Workspace
from fspatch.git_adapter import GitRepo
from scripts.example import git, write_tree
from tests.rebase_helpers import lines, make_repo, make_ws, text


def _bot_branch(tmp_path: Path) -> Path:
    """A workspace (a git repo) whose bot run met one conflict, committed, cloned afresh."""
    base = {"a.txt": text(lines(20)), "c.txt": text(lines(20, "c"))}
    up = tmp_path / "up"
    make_repo(up, base, [])
    patches = [
        ("0001-a.patch", "Edit a", "d", {"a.txt": text(lines(9) + ["patched 10\n"] + lines(20)[10:])}),
        ("0002-c.patch", "Edit c", "d", {"c.txt": text(lines(19, "c") + ["patched c20\n"])}),
    ]
    ws = make_ws(tmp_path, up, "v1", patches)
    (ws.root / ".gitignore").write_text("third_party/\n")
    git(ws.root, "init", "-q")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "workspace")
    write_tree(up, {"a.txt": text(lines(9) + ["up 10\n"] + lines(20)[10:]), "c.txt": text(["top\n"] + lines(20, "c"))})
    git(up, "commit", "-qam", "Upstream edits a and c")
    git(up, "tag", "v2")
    res = CliRunner().invoke(main_group, ["-C", str(ws.root), "pull-upstream", "minillm", "v2", "--no-stop"])
    assert res.exit_code == 1, res.output
    assert (ws.root / "series/minillm/pending.yaml").is_file()
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "bot: bump to v2")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ws.root), str(clone)], check=True)
    return clone


def _run(root: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main_group, ["-C", str(root), *args])
    return res.exit_code, res.output


def test_check_fails_then_apply_edit_continue_finishes(tmp_path: Path) -> None:
    """check exits 1 on a pending patch; apply stops at it with diff3 markers; continue makes it ordinary."""
    root = _bot_branch(tmp_path)
    code, out = _run(root, "check")
    assert code == 1 and "pending-patch" in out and "0001-a.patch" in out
    code, out = _run(root, "apply", "minillm")
    assert code == 1, out
    body = (root / "third_party/minillm/a.txt").read_text()
    assert "<<<<<<< upstream v2" in body and "||||||| upstream v1" in body and ">>>>>>> patch 0001-a.patch" in body
    (root / "third_party/minillm/a.txt").write_text(
        re.sub(r"<<<<<<< .*?>>>>>>> [^\n]*\n", "both 10\n", body, flags=re.S)
    )
    r = resolve.run_continue(Workspace.load(root))
    assert r.report.finished and not r.stopped
    assert not (root / "series/minillm/pending.yaml").exists()
    assert "+both 10" in (root / "series/minillm/0001-a.patch").read_text()
    assert "patched c20" in (root / "third_party/minillm/c.txt").read_text()
    assert Workspace.load(root).backend("minillm").ref == "v2"
    code, out = _run(root, "check")
    assert "pending-patch" not in out and "does-not-apply" not in out, out


def test_skip_drops_the_pending_patch(tmp_path: Path) -> None:
    """skip at the pending patch drops it from the series and ends the pending state."""
    root = _bot_branch(tmp_path)
    assert _run(root, "apply", "minillm")[0] == 1
    r = resolve.run_skip(Workspace.load(root))
    assert r.report.finished
    assert "0001-a.patch" not in (root / "series/minillm/series").read_text()
    assert not (root / "series/minillm/pending.yaml").exists()


def test_abort_returns_to_the_bot_state(tmp_path: Path) -> None:
    """abort after entering a pending patch puts the bot's files back: still pending, nothing lost."""
    root = _bot_branch(tmp_path)
    before = {
        p: (root / p).read_bytes()
        for p in (
            "upstream.lock",
            "series/minillm/pending.yaml",
            "series/minillm/0001-a.patch",
            "series/minillm/0002-c.patch",
        )
    }
    assert _run(root, "apply", "minillm")[0] == 1
    resolve.run_abort(Workspace.load(root))
    assert {p: (root / p).read_bytes() for p in before} == before
    assert GitRepo.is_repo(root / "third_party/minillm")
    shutil.rmtree(root / "third_party/minillm")
    assert _run(root, "apply", "minillm")[0] == 1  # and it can be entered again
