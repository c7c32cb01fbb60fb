"""A journal found on disk is checked before recover, abort or status act on it (issue 15, finding 4).

Each case starts from a real journal: ``fspatch push -a`` is killed (SIGKILL) after its journal
and checkout steps, then the journal is edited as an attacker would.  Before, ``recover``
deleted or overwrote files outside the workspace and ``status`` told the user to run it.  Now
the journal is refused with one line naming it and the way out, nothing anywhere changes, status
shows the refusal (never "run 'fspatch recover'"), every changing verb refuses, and
``recover --discard`` drops it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygit2
import pytest

from fspatch.commands import apply as apply_cmd
from tests.hardutil import cli, one_error_line, without_locks
from tests.hardutil import tree_snapshot as _raw_snapshot
from tests.wsutil import WS, make_workspace

Edit = Callable[[dict[str, Any], WS, Path], Any]


def tree_snapshot(root: Path) -> dict[str, tuple[int, str]]:
    return without_locks(_raw_snapshot(root))


def _fspatch(w: WS, *args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FSPATCH_CRASH_AT"}
    if crash:
        env["FSPATCH_CRASH_AT"] = crash
    return subprocess.run(
        [sys.executable, "-m", "fspatch", "-C", str(w.root), *args], capture_output=True, text=True, env=env
    )


@pytest.fixture
def killed(tmp_path: Path) -> tuple[WS, Path, Path]:
    """A workspace whose push -a was killed after moving the checkout; (ws, journal, outside dir)."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm", upto="0001")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("the user's file outside the workspace\n")
    (outside / "keep").mkdir()
    (outside / "keep" / "data.bin").write_bytes(b"\x00precious\xff")
    r = _fspatch(w, "push", "-a", crash="push:checkout")
    assert r.returncode == -signal.SIGKILL, r.stderr
    path = w.checkout / ".git/fspatch/journal.json"
    assert path.is_file()
    return w, path, outside


def _files(raw: dict[str, Any], w: WS, out: Path) -> None:
    raw["files"]["../outside/victim.txt"] = None


def _files_absolute(raw: dict[str, Any], w: WS, out: Path) -> None:
    raw["files"][str(out / "victim.txt")] = None


def _dirs(raw: dict[str, Any], w: WS, out: Path) -> None:
    raw["dirs"] = ["../outside"]


def _dirs_absolute(raw: dict[str, Any], w: WS, out: Path) -> None:
    raw["dirs"] = [str(out)]


def _dirs_checkout(raw: dict[str, Any], w: WS, out: Path) -> None:
    raw["dirs"] = ["third_party"]  # would sweep the checkout's untracked files


def _root(raw: dict[str, Any], w: WS, out: Path) -> None:
    raw["root"] = str(out)
    raw["files"] = {"victim.txt": None}


def _worktree(raw: dict[str, Any], w: WS, out: Path) -> None:
    raw["checkout"]["worktree"] = {"../../../outside/victim.txt": None}


def _paths(raw: dict[str, Any], w: WS, out: Path) -> None:
    raw["checkout"]["paths"] = ["../../../outside/victim.txt"]


def _git_dir_entry(raw: dict[str, Any], w: WS, out: Path) -> None:
    raw["checkout"]["worktree"] = {".git/config": None}


def _ref_out_of_scope(raw: dict[str, Any], w: WS, out: Path) -> None:
    target = next(iter(raw["checkout"]["refs"].values()))
    raw["checkout"]["refs"]["refs/heads/main"] = target


def _ref_dotdot(raw: dict[str, Any], w: WS, out: Path) -> None:
    target = next(iter(raw["checkout"]["refs"].values()))
    raw["checkout"]["refs"]["refs/fspatch/../../../outside/victim"] = target


def _saved_blob_path(raw: dict[str, Any], w: WS, out: Path) -> None:
    raw["files"]["series/minillm/series"] = "../../../../outside/victim.txt"  # read from outside


def _symlink_on_the_way(raw: dict[str, Any], w: WS, out: Path) -> None:
    (w.series_dir / "shared").symlink_to(out)
    raw["files"]["series/minillm/shared/victim.txt"] = None


def _not_a_workspace_file(raw: dict[str, Any], w: WS, out: Path) -> None:
    raw["files"]["README.md"] = None


def _wrong_operation_type(raw: dict[str, Any], w: WS, out: Path) -> None:
    raw["operation"] = ["push"]


def _huge_number(raw: dict[str, Any], w: WS, out: Path) -> bytes:
    return json.dumps(raw).replace('"paused": false', '"paused": ' + "9" * 5000).encode()


def _garbage(raw: dict[str, Any], w: WS, out: Path) -> bytes:
    return b"\x00\x01 not json at all {{{"


def _list_valued(raw: dict[str, Any], w: WS, out: Path) -> bytes:
    return json.dumps([raw]).encode()


CASES: list[tuple[str, Edit, str]] = [
    ("files-dotdot", _files, "points outside its tree"),
    ("files-absolute", _files_absolute, "outside the workspace"),
    ("dirs-dotdot", _dirs, "points outside its tree"),
    ("dirs-absolute", _dirs_absolute, "outside the workspace"),
    ("dirs-checkout", _dirs_checkout, "not one of fspatch's workspace files"),
    ("root-elsewhere", _root, "is not this workspace"),
    ("worktree-dotdot", _worktree, "checkout.worktree entry"),
    ("paths-dotdot", _paths, "checkout.paths entry"),
    ("worktree-git-dir", _git_dir_entry, "points into a .git directory"),
    ("ref-out-of-scope", _ref_out_of_scope, "outside refs/fspatch/"),
    ("ref-dotdot", _ref_dotdot, "outside refs/fspatch/"),
    ("saved-blob-path", _saved_blob_path, "not one of its own"),
    ("symlink-on-the-way", _symlink_on_the_way, "a symlink on the way leads outside"),
    ("not-a-workspace-file", _not_a_workspace_file, "not one of fspatch's workspace files"),
    ("mistyped", _wrong_operation_type, "'operation' is not a string"),
    ("huge-number", _huge_number, "the journal is damaged"),
    ("garbage", _garbage, "the journal is damaged"),
    ("list-valued", _list_valued, "the journal is damaged"),
]


@pytest.mark.parametrize(("edit", "expect"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_unsafe_journal_is_refused_never_acted_on(killed: tuple[WS, Path, Path], edit: Edit, expect: str) -> None:
    """recover, abort and every changing verb refuse with one line; status shows it; nothing anywhere changes."""
    w, path, outside = killed
    raw = json.loads(path.read_text())
    new = edit(raw, w, outside)
    path.write_bytes(new if isinstance(new, bytes) else json.dumps(raw).encode())
    before, victim = tree_snapshot(w.root), tree_snapshot(outside)
    for args in (("recover",), ("abort",), ("push",), ("new", "x", "-m", "X"), ("apply", "minillm", "--force")):
        r = cli(w.root, *args)
        line = one_error_line(r)
        assert r.exit_code == 2, (args, r.output)
        assert str(path) in line and expect in line and "fspatch recover --discard" in line, (args, line)
    status = cli(w.root, "status")
    assert status.exit_code == 0, status.output
    assert "refuses to act on" in status.output and "recover --discard" in status.output, status.output
    assert "run 'fspatch recover'" not in status.output
    assert tree_snapshot(outside) == victim
    assert tree_snapshot(w.root) == before
    # The way out: drop the journal after inspection; nothing is undone, everything works again.
    r = cli(w.root, "recover", "--discard")
    assert r.exit_code == 0 and "dropped the journal" in r.output, r.output
    assert not path.exists() and not (path.parent / "journal-saved").exists()
    assert tree_snapshot(outside) == victim
    assert cli(w.root, "apply", "minillm", "--force").exit_code == 0


def test_well_formed_journal_still_recovers(killed: tuple[WS, Path, Path]) -> None:
    """The control: the same killed push with its journal untouched is undone by recover."""
    w, path, outside = killed
    victim = tree_snapshot(outside)
    assert "run 'fspatch recover'" in cli(w.root, "status").output
    r = cli(w.root, "recover")
    assert r.exit_code == 0, r.output
    assert not path.exists() and tree_snapshot(outside) == victim


@pytest.mark.parametrize("name", ["txn.json", "operation.json"])
def test_old_format_journal_naming_a_victim_is_refused(killed: tuple[WS, Path, Path], name: str) -> None:
    """A format-1 journal (the issue's own example, ``"files": {"../victim.txt": null}``) is never read."""
    w, path, outside = killed
    path.unlink()
    old = path.parent / name
    old.write_text(json.dumps({"operation": "push", "root": str(w.root), "files": {"../outside/victim.txt": None},
                               "dirs": ["../outside"]}))
    victim = tree_snapshot(outside)
    r = cli(w.root, "recover")
    line = one_error_line(r)
    assert r.exit_code == 2 and name in line and "recover --discard" in line, line
    assert "run 'fspatch recover'" not in cli(w.root, "status").output
    assert tree_snapshot(outside) == victim
    assert cli(w.root, "recover", "--discard").exit_code == 0 and not old.exists()


def test_workspace_journal_with_a_checkout_section_is_refused(tmp_path: Path) -> None:
    """The workspace's own git dir holds export/import journals only: a 'checkout' there (a reset of the
    workspace repository) is refused."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    pygit2.init_repository(str(w.root))
    home = w.root / ".git/fspatch"
    home.mkdir(parents=True)
    head = "0" * 40
    journal = {"format": 2, "operation": "export", "backend": None, "root": str(w.root), "files": {},
               "dirs": ["vendors"], "kept_dirs": [], "paused": False, "plan": None,
               "checkout": {"head": head, "head_ref": None, "index": None, "refs": {}, "ref_scope": "refs/fspatch/",
                            "reset": True, "paths": [], "worktree": {}}}
    (home / "journal.json").write_text(json.dumps(journal))
    before = tree_snapshot(w.root)
    r = cli(w.root, "recover")
    line = one_error_line(r)
    assert r.exit_code == 2 and "not in a backend checkout" in line, line
    assert tree_snapshot(w.root) == before


def test_missing_object_in_the_state_ref_is_refused_with_a_way_out(tmp_path: Path) -> None:
    """refs/fspatch/state pointing at an object that is not there: one line, how to start afresh."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    (w.checkout / ".git/refs/fspatch/state").write_text("1234567890" * 4 + "\n")
    before = tree_snapshot(w.root)
    for args in (("pop",), ("status",), ("push",)):
        r = cli(w.root, *args)
        line = one_error_line(r)
        assert r.exit_code == 2 and "refs/fspatch/state is damaged" in line and "update-ref -d" in line, line
    assert tree_snapshot(w.root) == before


def test_apply_to_a_folder_holding_the_workspace_is_refused(tmp_path: Path) -> None:
    """apply --to DIR --force with DIR above the workspace: refused before anything is written."""
    w = make_workspace(tmp_path)
    before = tree_snapshot(tmp_path)
    r = cli(w.root, "apply", "minillm", "--to", str(tmp_path), "--force")
    line = one_error_line(r)
    assert r.exit_code == 2 and "must not hold the workspace" in line, line
    assert tree_snapshot(tmp_path) == before
