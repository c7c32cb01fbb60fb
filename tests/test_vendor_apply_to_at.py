"""apply --to (plain directory, checkout untouched) and --at (layers and lock of a workspace commit)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.commands import apply, new, refresh
from fspatch.core.stack import load_state
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError
from fspatch.git_adapter import GitRepo
from tests.gitutil import git
from tests.test_vendor_kit import add_vendor, commit_all, make_workspace, tree_files


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = make_workspace(tmp_path, tiny=False)
    add_vendor(w)
    apply.run(w, "minillm", vendor="cambricon_mlu")
    new.run(w, "minillm", "mlu", vendor="cambricon_mlu")
    f = w.checkout_path("minillm") / "minillm/flagscale_device.py"
    f.write_text(f.read_text().replace('"cuda"', '"mlu"'))
    refresh.run(w, "minillm", vendor="cambricon_mlu")
    commit_all(w.root, "mlu layer")
    return w


def test_apply_to_materialises_vendor_tree_without_touching_checkout(ws: Workspace, tmp_path: Path) -> None:
    """--to DIR writes exactly the vendor stack's files; the checkout's HEAD and state stay put."""
    co = ws.checkout_path("minillm")
    repo = GitRepo.open(co)
    head, state = repo.head(), load_state(repo)[1]
    expected = tree_files(co)
    apply.run(ws, "minillm", vendor="cambricon_mlu")  # the stack as checkout, for reference
    out = tmp_path / "build"
    r = apply.run(ws, "minillm", vendor="cambricon_mlu", task="inference", to=out)
    assert r.to == str(out.resolve())
    assert tree_files(out) == expected
    assert (repo.head(), load_state(repo)[1]) == (head, state)
    assert not (out / ".git").exists()


def test_apply_to_refuses_non_empty_dir_without_force(ws: Workspace, tmp_path: Path) -> None:
    """A non-empty --to directory is refused (exit 2) unless --force."""
    out = tmp_path / "build"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(UsageError, match="not empty"):
        apply.run(ws, "minillm", to=out)
    r = CliRunner().invoke(main_group, ["-C", str(ws.root), "apply", "minillm", "--to", str(out), "--force"])
    assert r.exit_code == 0, r.output
    assert (out / "minillm/flagscale_device.py").is_file() and (out / "keep.txt").is_file()


def test_apply_at_uses_old_layers_and_lock_without_touching_workspace(ws: Workspace, tmp_path: Path) -> None:
    """--at COMMIT rebuilds the vendor tree as of that workspace commit, even after the lock moved on."""
    old_commit = git(ws.root, "rev-parse", "HEAD").decode().strip()
    old_tree = tree_files(ws.checkout_path("minillm"))
    # Later: the layer changes and the lock moves to v1.1.
    f = ws.root / "vendors/cambricon_mlu/minillm/0001-mlu.patch"
    f.write_bytes(f.read_bytes().replace(b'"mlu"', b'"mlu370"'))
    b = ws.backends()["minillm"]
    v11 = git(ws.checkout_path("minillm"), "rev-parse", "v1.1^{commit}").decode().strip()
    ws.set_backend(replace(b, ref="v1.1", commit=v11))
    ws.save_lock()
    commit_all(ws.root, "bump to v1.1")
    ws = Workspace.load(ws.root)
    files_before = tree_files(ws.root)
    out = tmp_path / "old"
    r = CliRunner().invoke(
        main_group, ["-C", str(ws.root), "apply", "minillm", "--vendor", "cambricon_mlu", "--at", old_commit[:10], "--to", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert tree_files(out) == old_tree
    assert tree_files(ws.root) == files_before
    assert git(ws.root, "status", "--porcelain") == b""


def test_apply_at_unknown_commit_is_usage_error(ws: Workspace, tmp_path: Path) -> None:
    """An --at that names no workspace commit is a usage error."""
    with pytest.raises(UsageError, match="unknown workspace commit"):
        apply.run(ws, "minillm", at="deadbeef", to=tmp_path / "x")
