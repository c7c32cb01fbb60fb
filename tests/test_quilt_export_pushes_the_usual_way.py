"""`export --format quilt --out DIR` is pushed the usual way by real quilt (issue 16, item 10).

``QUILT_PATCHES=DIR/<backend>/patches quilt push -a`` in the upstream tree -- absolute or
relative, the export beside the tree or inside it -- applies the layer and gives fspatch's tree.
quilt 0.66 stopped on the old layout's top-level ``series/`` folder; no folder of the export is
named ``series`` now.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scripts.example import git
from tests.test_review_kit import add_vendor_files, edit
from tests.wsutil import WS, make_workspace, snapshot

HAVE_QUILT = shutil.which("quilt") is not None
pytestmark = pytest.mark.skipif(not HAVE_QUILT, reason="quilt is not installed (apt-get install quilt)")


def _tree_files(root: Path) -> dict[str, bytes]:
    return {k: v for k, v in snapshot(root).items() if not k.startswith((".pc", "patches", "exp/"))}


def _upstream_copy(w: WS, dest: Path) -> Path:
    git(dest.parent, "clone", "-q", "--branch", "v1.0", str(w.upstream), str(dest))
    shutil.rmtree(dest / ".git")
    return dest


def _push(tree: Path, patches: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QUILT_PATCHES": patches}
    env.pop("QUILT_SERIES", None)
    return subprocess.run(["quilt", "push", "-a"], cwd=tree, env=env, capture_output=True, text=True)


def test_export_has_no_series_folder(tmp_path: Path) -> None:
    """Every directory of the export is a backend, 'vendors', a vendor or a 'patches' dir; 'series' is only a file."""
    w = make_workspace(tmp_path)
    out = tmp_path / "out"
    assert w.cli("export", "--format", "quilt", "--out", str(out)).exit_code == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_dir()) == ["minillm", "minillm/patches"]
    assert (out / "minillm" / "patches" / "series").is_file()


@pytest.mark.parametrize("where", ["absolute", "relative", "inside-the-tree"])
def test_quilt_push_with_quilt_patches_applies_the_layer(tmp_path: Path, where: str) -> None:
    """QUILT_PATCHES=DIR/minillm/patches quilt push -a, run in the upstream tree, gives the stack's tree."""
    w = make_workspace(tmp_path)
    assert w.cli("apply", "minillm").exit_code == 0
    tree = _upstream_copy(w, tmp_path / "tree")
    out = tree / "exp" if where == "inside-the-tree" else tmp_path / "out"
    r = w.cli("export", "minillm", "--format", "quilt", "--out", str(out))
    assert r.exit_code == 0, r.output
    patches = {
        "absolute": str(out / "minillm" / "patches"),
        "relative": "../out/minillm/patches",
        "inside-the-tree": "exp/minillm/patches",
    }[where]
    got = _push(tree, patches)
    assert got.returncode == 0, got.stdout + got.stderr
    assert "Now at patch" in got.stdout and "0003-device-selection.patch" in got.stdout
    assert _tree_files(tree) == snapshot(w.checkout)


def test_vendor_layer_pushes_after_the_common_layer(tmp_path: Path) -> None:
    """The vendor dir (DIR/<b>/vendors/<v>/patches) pushes on top of the common one, as fspatch stacks it."""
    w = make_workspace(tmp_path)
    add_vendor_files(w.root, "acme")
    assert w.cli("apply", "minillm", "--vendor", "acme").exit_code == 0
    assert w.cli("new", "mlu-device", "--vendor", "acme", "-m", "MLU device").exit_code == 0
    edit(
        w.checkout / "minillm/model_runner.py",
        '        self.device = config.get("device", "cuda")\n',
        "        # --- FLAGSCALE MODIFICATION BEG ---\n"
        '        self.device = config.get("device", "mlu")\n'
        "        # --- FLAGSCALE MODIFICATION END ---\n",
    )
    assert w.cli("refresh", "--vendor", "acme").exit_code == 0
    out = tmp_path / "out"
    assert w.cli("export", "minillm", "--format", "quilt", "--out", str(out)).exit_code == 0
    assert (out / "minillm" / "vendors" / "acme" / "patches" / "series").read_text() == "0001-mlu-device.patch\n"
    tree = _upstream_copy(w, tmp_path / "tree")
    # quilt keeps one series per tree: apply the common layer, then the vendor's with its own .pc
    got = _push(tree, str(out / "minillm" / "patches"))
    assert got.returncode == 0, got.stderr
    shutil.rmtree(tree / ".pc")
    got = _push(tree, str(out / "minillm" / "vendors" / "acme" / "patches"))
    assert got.returncode == 0, got.stdout + got.stderr
    assert _tree_files(tree) == snapshot(w.checkout)
