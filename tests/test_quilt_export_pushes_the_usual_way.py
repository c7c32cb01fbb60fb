"""`export --format quilt --out DIR` is pushed the usual way by real quilt (issue 16, item 10).

``QUILT_PATCHES=DIR/<backend>/patches quilt push -a`` in the upstream tree -- absolute or
relative, the export beside the tree or inside it -- applies the layer and gives fspatch's tree.
quilt 0.66 stopped on the old layout's top-level ``series/`` folder; no folder of the export is
named ``series`` now.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
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


def _with_a_header_only_patch(tmp_path: Path) -> WS:
    """0001..0003 applied, then 'new' + 'header -m' on top: a description, never refreshed with an edit."""
    w = make_workspace(tmp_path)
    assert w.cli("apply", "minillm").exit_code == 0
    assert w.cli("new", "plan", "-m", "Plan the MLU port").exit_code == 0
    r = w.cli("header", "plan", "-m", "Plan the MLU port\n\nThe device hooks go here once they are written.")
    assert r.exit_code == 0, r.output
    return w


def test_check_warns_about_a_patch_without_a_diff(tmp_path: Path) -> None:
    """check: an empty-patch warning at the patch file's first line; exit 0 (a warning); the rule is described."""
    w = _with_a_header_only_patch(tmp_path)
    r = w.cli("check")
    assert r.exit_code == 0, r.output
    found = [line for line in r.output.splitlines() if "empty-patch" in line]
    assert len(found) == 1, r.output
    assert "series/minillm/0004-plan.patch:1:" in found[0] and "warning" in found[0]
    assert "quilt cannot push it" in found[0]
    r = w.cli("check", "--format", "json")
    rules = {f["rule"]: f["severity"] for f in json.loads(r.output)["findings"]}
    assert rules == {"empty-patch": "warning"}
    # a real diff makes the warning go away
    edit(w.checkout / "minillm/model_runner.py", "import os\n", "import os  # MLU port planned\n")
    assert w.cli("refresh").exit_code == 0
    assert "empty-patch" not in w.cli("check").output


def test_quilt_export_writes_an_empty_patch_quilt_pushes(tmp_path: Path) -> None:
    """The export keeps the patch in the series as an empty file, says so on stderr; real 'quilt push -a' passes it."""
    w = _with_a_header_only_patch(tmp_path)
    out = tmp_path / "out"
    r = subprocess.run(
        [str(Path(sys.executable).parent / "fspatch"), "export", "--format", "quilt", "--out", str(out)],
        cwd=w.root,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    patches = out / "minillm" / "patches"
    assert r.stderr.splitlines() == [
        f"note: {patches}/0004-plan.patch: no diff, written as an empty patch (quilt pushes it as empty; "
        "its description is not in the export)"
    ]
    assert (patches / "series").read_text().splitlines()[-1] == "0004-plan.patch"
    assert (patches / "0004-plan.patch").read_bytes() == b""
    # the other patches are byte for byte the workspace's
    assert (patches / "0001-enable-flag-gems.patch").read_bytes() == (
        w.series_dir / "0001-enable-flag-gems.patch"
    ).read_bytes()
    tree = _upstream_copy(w, tmp_path / "tree")
    got = _push(tree, str(patches))
    assert got.returncode == 0, got.stdout + got.stderr
    assert "Patch patches/0004-plan.patch appears to be empty; applied" in got.stdout.replace(str(patches), "patches")
    assert _tree_files(tree) == snapshot(w.checkout)
    # the workspace's own file, as quilt would have refused it, is what the export replaced
    raw = tree / "raw"
    raw.mkdir()
    shutil.copy(w.series_dir / "0004-plan.patch", raw / "0004-plan.patch")
    (raw / "series").write_text("0004-plan.patch\n")
    shutil.rmtree(tree / ".pc")
    refused = _push(tree, str(raw))
    assert refused.returncode != 0 and "Only garbage was found in the patch input" in refused.stdout + refused.stderr
    # exporting again is a no-op
    again = w.cli("export", "--format", "quilt", "--out", str(out))
    assert again.exit_code == 0 and "unchanged" in again.output
