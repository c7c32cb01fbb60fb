"""``fspatch absorb``: every edited hunk goes into the applied patch that owns it (issue 14 item 9).

Real git repositories and patches (Python, C++, CUDA files) in a FlagScale-shaped workspace
(tests/fsflow.py): a per-file common layer and a per-file vendor layer on top.  Each test
names the rule it pins; the refusals leave workspace and checkout byte for byte as they were.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fspatch.cli import main_group
from fspatch.commands import absorb, apply
from fspatch.core.workspace import Workspace
from tests.fsflow import make_flagscale_workspace
from tests.wsutil import make_workspace, snapshot


def cli(ws: Workspace | Path, *args: str) -> Result:
    root = ws.root if isinstance(ws, Workspace) else ws
    return CliRunner().invoke(main_group, ["-C", str(root), *args])


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = make_flagscale_workspace(tmp_path)
    apply.run(w, "megatron", vendor="acme")
    return w


def checkout(ws: Workspace) -> Path:
    return ws.checkout_path("megatron")


def state_of(ws: Workspace) -> dict[str, bytes]:
    """Workspace files and checkout files (the checkout is inside the workspace root)."""
    return snapshot(ws.root)


def rebuilt_tree(ws: Workspace, tmp: Path, vendor: str | None = "acme") -> dict[str, bytes]:
    """The stack rebuilt from the workspace files alone, written to a fresh directory."""
    out = tmp / f"rebuilt-{vendor}"
    tmp.mkdir(exist_ok=True)
    apply.run(ws, "megatron", vendor=vendor, to=out)
    return snapshot(out)


def test_dry_run_lists_where_each_hunk_goes_and_changes_nothing(ws: Workspace) -> None:
    """--dry-run prints one line a hunk (where, change, destination, rule) and writes nothing."""
    co = checkout(ws)
    edit(co / "megatron/core/timers.py", "return 3 * 10  # flagscale", "return 3 * 100  # flagscale")
    edit(co / "megatron/core/timers.py", "    return 9  # npu\n", "    return 9  # npu, tuned\n")
    edit(co / "csrc/kernel.cu", "3.0f", "4.0f")
    (co / "megatron/core/new_op.py").write_text("def op():\n    return 0\n")
    before = state_of(ws)
    r = cli(ws, "absorb", "--dry-run")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        "csrc/kernel.cu:2 -1 +1 -> vendor/acme/0002-csrc-kernel.cu.patch [lines]",
        "megatron/core/new_op.py (added) added -> vendor/acme/0003-megatron-core-new_op.py.patch (new) [new]",
        "megatron/core/timers.py:11 -1 +1 -> common/0002-megatron-core-timers.py.patch [lines]",
        "megatron/core/timers.py:29 -1 +1 -> vendor/acme/0001-megatron-core-timers.py.patch [lines]",
        "dry run: 4 hunks into 4 patches",
    ]
    assert state_of(ws) == before
    j = cli(ws, "absorb", "--dry-run", "--format", "json")
    data = json.loads(j.output)
    assert data["format"] == "fspatch/absorb" and data["dry_run"] is True
    assert [h["rule"] for h in data["hunks"]] == ["lines", "new", "lines", "lines"]


def test_hunks_go_to_the_patch_that_last_changed_their_lines_across_layers(ws: Workspace, tmp_path: Path) -> None:
    """A common-owned line goes into the common patch, a vendor-owned one into the vendor patch;
    the rebuilt stack is the edited checkout, and the checkout is clean afterwards."""
    co = checkout(ws)
    edit(co / "megatron/core/timers.py", "return 3 * 10  # flagscale", "return 3 * 100  # flagscale")
    edit(co / "megatron/core/timers.py", "    return 9  # npu\n", "    return 9  # npu, tuned\n")
    edit(co / "csrc/fused.cpp", "x + 2", "x + 3")  # common 0001 (C++)
    edit(co / "csrc/kernel.cu", "3.0f", "4.0f")  # vendor 0002 (CUDA)
    edited = {p: d for p, d in snapshot(co).items()}
    common = ws.root / "series/megatron"
    vendor = ws.root / "vendors/acme/megatron"
    top_before = (common / "0003-tools-preprocess_data.py.patch").read_bytes()
    r = cli(ws, "absorb")
    assert r.exit_code == 0, r.output
    assert "+    return 3 * 100  # flagscale" in (common / "0002-megatron-core-timers.py.patch").read_text()
    assert "+    return 9  # npu, tuned" in (vendor / "0001-megatron-core-timers.py.patch").read_text()
    assert "npu" not in (common / "0002-megatron-core-timers.py.patch").read_text()
    assert "+    return x + 3;" in (common / "0001-csrc-fused.cpp.patch").read_text()
    assert "+    x[threadIdx.x] *= 4.0f;" in (vendor / "0002-csrc-kernel.cu.patch").read_text()
    assert (common / "0003-tools-preprocess_data.py.patch").read_bytes() == top_before
    assert git(co, "status", "--porcelain") == ""
    assert rebuilt_tree(ws, tmp_path) == edited
    # The common layer alone now carries the common edits and none of the vendor's.
    common_tree = rebuilt_tree(ws, tmp_path, vendor=None)
    assert b"3 * 100" in common_tree["megatron/core/timers.py"]
    assert b"npu" not in common_tree["megatron/core/timers.py"]
    assert b"x + 3" in common_tree["csrc/fused.cpp"] and b"3.0f" not in common_tree["csrc/kernel.cu"]


def test_upstream_lines_go_to_the_files_own_patch_of_the_layer(ws: Workspace) -> None:
    """An edit to lines no patch changed, in a file the scope's per-file patch owns, goes into that
    file's patch (rule 'file'), not the layer's top patch."""
    co = checkout(ws)
    edit(co / "megatron/core/timers.py", "    return 5\n", "    return 55\n")
    r = cli(ws, "absorb", "--layer", "common")
    assert r.exit_code == 0, r.output
    assert "megatron/core/timers.py:17 -1 +1 -> common/0002-megatron-core-timers.py.patch [file]" in r.output
    assert "+    return 55" in (ws.root / "series/megatron/0002-megatron-core-timers.py.patch").read_text()
    assert "55" not in (ws.root / "series/megatron/0003-tools-preprocess_data.py.patch").read_text()


def test_a_new_file_gets_a_new_patch_named_after_it_below_the_vendor_layer(ws: Workspace, tmp_path: Path) -> None:
    """In a per-file layer a new file becomes NNNN-<path>.patch at the top of the layer, even with
    the vendor layer applied above it; the series lists it."""
    co = checkout(ws)
    (co / "megatron/core/fusions").mkdir()
    (co / "megatron/core/fusions/fused_op.py").write_text("def fused_op(x):\n    return x\n")
    r = cli(ws, "absorb", "--layer", "common")
    assert r.exit_code == 0, r.output
    name = "0004-megatron-core-fusions-fused_op.py.patch"
    assert f"-> common/{name} (new) [new]" in r.output
    assert (ws.root / "series/megatron/series").read_text().splitlines()[-1] == name
    text = (ws.root / f"series/megatron/{name}").read_text()
    assert "Subject: megatron/core/fusions/fused_op.py" in text and "+def fused_op(x):" in text
    assert git(co, "status", "--porcelain") == ""
    assert "megatron/core/fusions/fused_op.py" in rebuilt_tree(ws, tmp_path, vendor=None)


def test_ambiguous_hunks_go_to_the_top_patch_or_into(tmp_path: Path) -> None:
    """In a layer that is not per-file (the embedded example), an edit no patch owns goes into the
    top patch, or the one --into names."""
    w = make_workspace(tmp_path)
    assert w.cli("apply").exit_code == 0
    readme = w.checkout / "README.md"
    readme.write_text(readme.read_text() + "More.\n")
    r = w.cli("absorb", "--dry-run")
    assert r.exit_code == 0, r.output
    top = (w.series_dir / "series").read_text().split()[-1]
    first = (w.series_dir / "series").read_text().split()[0]
    assert f"-> common/{top} [top]" in r.output
    r = w.cli("absorb", "--into", first)
    assert r.exit_code == 0, r.output
    assert f"-> common/{first} [into]" in r.output
    assert "+More." in (w.series_dir / first).read_text()


def test_nothing_to_absorb_is_refused_with_one_line(ws: Workspace) -> None:
    r = cli(ws, "absorb")
    assert r.exit_code == 2
    assert r.output.strip() == "error: nothing to absorb: third_party/megatron has no edits against the stack top"


def test_lines_of_a_patch_above_the_layer_are_refused(ws: Workspace) -> None:
    """absorb --layer common must not take a vendor-owned line: it names the patch, nothing changes."""
    co = checkout(ws)
    edit(co / "megatron/core/timers.py", "    return 9  # npu\n", "    return 9  # npu, tuned\n")
    before = state_of(ws)
    r = cli(ws, "absorb", "--layer", "common")
    assert r.exit_code == 2
    assert "megatron/core/timers.py:29: the lines belong to vendor/acme/0001-megatron-core-timers.py.patch" in r.output
    assert state_of(ws) == before


def test_partly_staged_and_unmerged_index_states_are_refused(ws: Workspace) -> None:
    """A file staged and then edited again, or conflict stages in the index, are refused by name."""
    co = checkout(ws)
    timers = co / "megatron/core/timers.py"
    edit(timers, "    return 5\n", "    return 55\n")
    git(co, "add", "megatron/core/timers.py")
    edit(timers, "    return 6\n", "    return 66\n")
    before = state_of(ws)
    r = cli(ws, "absorb", "--dry-run")
    assert r.exit_code == 2
    assert "megatron/core/timers.py is staged and then edited again" in r.output
    assert state_of(ws) == before
    git(co, "add", "megatron/core/timers.py")
    assert cli(ws, "absorb", "--dry-run").exit_code == 0  # fully staged: fine
    blob = git(co, "rev-parse", "HEAD:README.md").strip()
    info = "".join(f"100644 {blob} {stage}\tREADME.md\n" for stage in (1, 2, 3))
    subprocess.run(["git", "-C", str(co), "update-index", "--index-info"], input=info, text=True, check=True)
    r = cli(ws, "absorb")
    assert r.exit_code == 2
    assert "README.md has unresolved conflicts in the index" in r.output


def test_a_hunk_that_cannot_move_cleanly_changes_nothing(ws: Workspace) -> None:
    """A common-owned line next to a line the vendor patch changes cannot go below it without a
    conflict: exit 1, workspace and checkout as before (all or nothing)."""
    co = checkout(ws)
    timers = co / "megatron/core/timers.py"
    edit(timers, "def timer_3():\n", "def timer_3():  # npu\n")  # upstream line: the vendor's file patch
    r = cli(ws, "absorb")
    assert r.exit_code == 0 and "-> vendor/acme/0001-megatron-core-timers.py.patch [file]" in r.output
    edit(timers, "return 3 * 10  # flagscale", "return 3 * 11  # flagscale")  # common's line, next to it
    before = state_of(ws)
    r = cli(ws, "absorb")
    assert r.exit_code == 1
    assert r.output.startswith("error: megatron/core/timers.py:11: cannot go into series/megatron/0002-megatron-core-timers.py.patch")
    assert "nothing changed" in r.output
    assert state_of(ws) == before
    assert git(co, "status", "--porcelain") == " M megatron/core/timers.py\n"


def test_absorb_is_journalled_and_recoverable(ws: Workspace, tmp_path: Path) -> None:
    """Killed after the first patch file is written, 'fspatch recover' restores every file."""
    import os
    import sys

    co = checkout(ws)
    edit(co / "megatron/core/timers.py", "return 3 * 10  # flagscale", "return 3 * 100  # flagscale")
    edit(co / "csrc/kernel.cu", "3.0f", "4.0f")
    before = state_of(ws)
    exe = Path(sys.executable).parent / "fspatch"
    env = {**os.environ, "FSPATCH_CRASH_AT": "absorb:patch-file"}
    p = subprocess.run([str(exe), "-C", str(ws.root), "absorb"], env=env, capture_output=True, text=True)
    assert p.returncode != 0
    assert cli(ws, "absorb").exit_code == 2  # a journal is pending: refused
    env.pop("FSPATCH_CRASH_AT")
    p = subprocess.run([str(exe), "-C", str(ws.root), "recover"], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert state_of(ws) == before
    assert cli(ws, "absorb").exit_code == 0


def test_command_result_names_the_destinations(ws: Workspace) -> None:
    co = checkout(ws)
    edit(co / "csrc/kernel.cu", "3.0f", "4.0f")
    r = absorb.run(ws, "megatron")
    assert r.patches == ("vendors/acme/megatron/0002-csrc-kernel.cu.patch",)
    assert r.changed == r.patches


def test_whole_file_changes_binary_mode_and_deletion_are_routed_too(ws: Workspace, tmp_path: Path) -> None:
    """A binary file and a mode change are whole-file hunks: a new binary file gets its own patch
    (git binary diff), an exec bit goes into the file's patch, and deleting the file a patch added
    goes back into that patch; each time the rebuilt stack is the checkout."""
    co = checkout(ws)
    (co / "megatron/core/table.bin").write_bytes(bytes(range(256)) * 4)
    (co / "csrc/fused.cpp").chmod(0o755)
    r = cli(ws, "absorb")
    assert r.exit_code == 0, r.output
    assert "csrc/fused.cpp (mode) mode -> common/0001-csrc-fused.cpp.patch [file]" in r.output
    assert "megatron/core/table.bin (added) added -> vendor/acme/0003-megatron-core-table.bin.patch (new) [new]" in r.output
    assert "GIT binary patch" in (ws.root / "vendors/acme/megatron/0003-megatron-core-table.bin.patch").read_text()
    assert "new mode 100755" in (ws.root / "series/megatron/0001-csrc-fused.cpp.patch").read_text()
    assert rebuilt_tree(ws, tmp_path) == snapshot(co)
    (co / "megatron/core/table.bin").unlink()
    r = cli(ws, "absorb")
    assert r.exit_code == 0, r.output
    assert "megatron/core/table.bin (deleted) deleted -> vendor/acme/0003-megatron-core-table.bin.patch [file]" in r.output
    assert "table.bin" not in (ws.root / "vendors/acme/megatron/0003-megatron-core-table.bin.patch").read_text().split("---")[-1]
    assert git(co, "status", "--porcelain") == ""
    assert rebuilt_tree(ws, tmp_path / "again") == snapshot(co)


def test_a_pure_insertion_belongs_to_a_patch_only_between_two_of_its_lines(ws: Workspace) -> None:
    """git-absorb's care with additions: inside a patch's block, the patch ('lines'); at the edge of
    it (a patch line on one side, an upstream line on the other), no line owner ('file' then)."""
    co = checkout(ws)
    (co / "megatron/core/new_op.py").write_text("def a():\n    return 1\n\n\ndef b():\n    return 2\n")
    assert absorb.run(ws, "megatron", layer="common").hunks[0].rule == "new"
    edit(co / "megatron/core/new_op.py", "\n\ndef b():", "\n# between a and b\n\ndef b():")
    edit(co / "megatron/core/timers.py", "    return 3 * 10  # flagscale\n", "    return 3 * 10  # flagscale\n    # after\n")
    r = absorb.run(ws, "megatron", layer="common", dry_run=True)
    got = {(h.where, h.rule, h.patch) for h in r.hunks}
    assert got == {
        ("megatron/core/new_op.py:4", "lines", "0004-megatron-core-new_op.py.patch"),
        ("megatron/core/timers.py:12", "file", "0002-megatron-core-timers.py.patch"),
    }
