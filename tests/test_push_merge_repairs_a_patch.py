"""`push --merge` gets past a patch that does not apply, as `quilt push --merge` / `git am -3` do (issue 16, item 5).

A patch whose hunks do not apply on its parent is merged 3-way from the blobs its ``index``
lines name (when the checkout's repository has them): a clean merge is applied and the patch
refreshed at once; a conflict leaves diff3 markers in the checkout, the patch pushed, and exit
1 — the user edits, then ``fspatch refresh``.  Without those blobs, the hunks that apply are
applied and the others written to ``FILE.rej`` (never recorded by refresh).  A dirty checkout
is refused and nothing changes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.wsutil import WS, make_workspace, snapshot, write_patches

CU = "csrc/kernels/rmsnorm.cu"
RUNNER = "minillm/model_runner.py"


def _replace(rel: str, old: str, new: str):  # type: ignore[no-untyped-def]
    def edit(root: Path) -> None:
        path = root / rel
        text = path.read_text()
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1))

    return edit


def _workspace_with(tmp_path: Path, name: str, *edits) -> WS:  # type: ignore[no-untyped-def]
    """Common layer applied on v1.0 up to 0001, then a patch NAME made against v1.1 (so it fails on v1.0)."""
    w = make_workspace(tmp_path)
    series = w.series_dir / "series"
    series.write_text("0001-enable-flag-gems.patch\n")
    for other in ("0002-rmsnorm-block-size.patch", "0003-device-selection.patch"):
        (w.series_dir / other).unlink()

    def all_edits(root: Path) -> None:
        for e in edits:
            e(root)

    write_patches(w.upstream, "v1.1", w.series_dir, [(name, "A change made on v1.1", all_edits)], append=True)
    r = w.cli("apply", "minillm", "--upto", "0001")
    assert r.exit_code == 0, r.output
    return w


def test_plain_push_stops_at_the_hunk_and_points_to_merge(tmp_path: Path) -> None:
    """Without --merge the checkout is untouched, the hunk is named and --merge suggested; exit 1."""
    w = _workspace_with(tmp_path, "0002-wider.patch", _replace(CU, "dim3 block(512);", "dim3 block(1024);"))
    before = snapshot(w.checkout)
    r = w.cli("push")
    assert r.exit_code == 1
    assert f"{CU}: hunk 1" in r.output and "does not apply" in r.output and "push --merge" in r.output
    assert snapshot(w.checkout) == before


def test_a_clean_three_way_merge_is_applied_and_refreshed(tmp_path: Path) -> None:
    """The patch changes a line two below one that v1.1 changed: 3-way is clean; the patch file now fits v1.0."""
    w = _workspace_with(
        tmp_path, "0002-rows.patch", _replace(CU, "int rows = in.size(0);", "int rows = in.size(0);  // rows")
    )
    r = w.cli("push", "--merge")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == [
        "Applying 0002-rows.patch",
        f"  merged {CU} (3-way, clean)",
        "Refreshed series/minillm/0002-rows.patch",
        "Now at 0002-rows.patch",
    ]
    text = (w.checkout / CU).read_text()
    assert "int rows = in.size(0);  // rows" in text and "dim3 block(256);" in text  # v1.0's line kept
    assert w.cli("status").output.count("checkout clean") == 1
    # the refreshed patch applies on v1.0 without help now
    assert w.cli("pop").exit_code == 0
    r = w.cli("push")
    assert r.exit_code == 0, r.output


def test_a_conflict_leaves_markers_then_refresh_repairs_the_patch(tmp_path: Path) -> None:
    """Both sides changed the block size: markers in the checkout, exit 1; resolve + refresh; push works plainly."""
    w = _workspace_with(tmp_path, "0002-wider.patch", _replace(CU, "dim3 block(512);", "dim3 block(1024);"))
    r = w.cli("push", "--merge")
    assert r.exit_code == 1, r.output
    lines = r.output.splitlines()
    assert lines[0] == "Applying 0002-wider.patch"
    assert f"  conflict in {CU}: markers in third_party/minillm/{CU}" in lines
    assert lines[-1] == "Now at 0002-wider.patch, with conflicts: edit the files, then run 'fspatch refresh'"
    text = (w.checkout / CU).read_text()
    assert "<<<<<<<" in text and ">>>>>>>" in text and "dim3 block(1024);" in text and "dim3 block(256);" in text
    assert w.cli("series").output.splitlines()[-1] == "> 0002-wider.patch"
    # resolve: take the patch's side
    start, end = text.index("<<<<<<<"), text.index(">>>>>>>")
    end = text.index("\n", end) + 1
    (w.checkout / CU).write_text(text[:start] + "  dim3 block(1024);\n" + text[end:])
    r = w.cli("refresh")
    assert r.exit_code == 0 and r.output.strip() == "Refreshed series/minillm/0002-wider.patch (1 file)"
    patch = (w.series_dir / "0002-wider.patch").read_text()
    assert "-  dim3 block(256);\n+  dim3 block(1024);\n" in patch
    assert w.cli("pop").exit_code == 0
    assert w.cli("push").exit_code == 0


def test_without_the_blobs_the_rejects_go_to_rej_files(tmp_path: Path) -> None:
    """No index lines: the hunk that applies is applied, the other written to FILE.rej; refresh skips .rej files."""
    w = _workspace_with(
        tmp_path,
        "0002-two-files.patch",
        _replace(CU, "dim3 block(512);", "dim3 block(1024);"),
        _replace(RUNNER, "        hidden = self.norm(batch)\n", "        hidden = self.norm(batch)  # normed\n"),
    )
    path = w.series_dir / "0002-two-files.patch"
    path.write_text("".join(line for line in path.read_text().splitlines(True) if not line.startswith("index ")))
    r = w.cli("push", "--merge")
    assert r.exit_code == 1, r.output
    assert f"  rejected hunk 1 of {CU}: see third_party/minillm/{CU}.rej" in r.output.splitlines()
    rej = (w.checkout / (CU + ".rej")).read_text()
    assert rej.startswith(f"--- a/{CU}\n+++ b/{CU}\n@@ ") and "+  dim3 block(1024);" in rej
    assert "# normed" in (w.checkout / RUNNER).read_text()
    # the user applies the rejected change by hand and refreshes; the .rej file is not recorded
    cu = w.checkout / CU
    cu.write_text(cu.read_text().replace("dim3 block(256);", "dim3 block(1024);"))
    r = w.cli("refresh")
    assert r.exit_code == 0, r.output
    patch = path.read_text()
    assert ".rej" not in patch and "dim3 block(1024);" in patch and "# normed" in patch


def test_push_merge_never_overwrites_local_edits(tmp_path: Path) -> None:
    """A dirty checkout is refused before anything is merged: same bytes in the workspace and the checkout."""
    w = _workspace_with(tmp_path, "0002-wider.patch", _replace(CU, "dim3 block(512);", "dim3 block(1024);"))
    (w.checkout / CU).write_text((w.checkout / CU).read_text() + "// mine\n")
    before_ws, before_co = snapshot(w.root / "series"), snapshot(w.checkout)
    r = w.cli("push", "--merge")
    assert r.exit_code == 2 and "local changes" in r.output
    assert snapshot(w.root / "series") == before_ws and snapshot(w.checkout) == before_co


def _markers(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(("<<<<<<<", "|||||||", "=======", ">>>>>>>"))]


def test_merge_diff3_markers_show_the_base(tmp_path: Path) -> None:
    """--merge=diff3 (as bare --merge): ours, then ||||||| with the v1.1 base line, then theirs."""
    w = _workspace_with(tmp_path, "0002-wider.patch", _replace(CU, "dim3 block(512);", "dim3 block(1024);"))
    r = w.cli("push", "--merge=diff3")
    assert r.exit_code == 1, r.output
    text = (w.checkout / CU).read_text()
    assert _markers(text) == ["<<<<<<< current", "||||||| patch base", "=======", ">>>>>>> 0002-wider.patch"]
    ours, rest = text.split("<<<<<<< current\n", 1)[1].split("||||||| patch base\n", 1)
    base, theirs = rest.split("=======\n", 1)
    assert ours == "  dim3 block(256);\n" and base == "  dim3 block(512);\n"
    assert theirs.split(">>>>>>>", 1)[0] == "  dim3 block(1024);\n"


def test_merge_merge_markers_have_no_base_and_refresh_repairs(tmp_path: Path) -> None:
    """--merge=merge: only ours and theirs between the markers (no |||||||), as quilt's merge style; refresh works."""
    w = _workspace_with(tmp_path, "0002-wider.patch", _replace(CU, "dim3 block(512);", "dim3 block(1024);"))
    r = w.cli("push", "--merge=merge")
    assert r.exit_code == 1, r.output
    text = (w.checkout / CU).read_text()
    assert _markers(text) == ["<<<<<<< current", "=======", ">>>>>>> 0002-wider.patch"]
    assert "dim3 block(512);" not in text  # the base is not shown in merge style
    start, end = text.index("<<<<<<<"), text.index(">>>>>>>")
    (w.checkout / CU).write_text(text[:start] + "  dim3 block(1024);\n" + text[text.index("\n", end) + 1 :])
    assert w.cli("refresh").exit_code == 0
    assert "+  dim3 block(1024);\n" in (w.series_dir / "0002-wider.patch").read_text()


def test_merge_style_option_and_patch_argument(tmp_path: Path) -> None:
    """'--merge PATCH' keeps PATCH a patch; --merge-style implies --merge; a bad style is exit 2, nothing changes."""
    w = _workspace_with(tmp_path, "0002-wider.patch", _replace(CU, "dim3 block(512);", "dim3 block(1024);"))
    before_ws, before_co = snapshot(w.root / "series"), snapshot(w.checkout)
    r = w.cli("push", "--merge=theirs")
    assert r.exit_code == 2 and "--merge takes diff3 or merge, not 'theirs'" in r.output
    assert "Traceback" not in r.output
    assert snapshot(w.root / "series") == before_ws and snapshot(w.checkout) == before_co
    r = w.cli("push", "--merge-style", "merge", "0002")
    assert r.exit_code == 1, r.output
    assert _markers((w.checkout / CU).read_text()) == ["<<<<<<< current", "=======", ">>>>>>> 0002-wider.patch"]
    assert "--merge=merge|diff3" in w.cli("push", "--help").output


def test_installed_fspatch_push_merge_merge_in_a_subprocess(tmp_path: Path) -> None:
    """The installed fspatch, as a user types it: 'fspatch push -a --merge=merge' leaves merge-style markers."""
    w = _workspace_with(tmp_path, "0002-wider.patch", _replace(CU, "dim3 block(512);", "dim3 block(1024);"))
    exe = Path(sys.executable).parent / "fspatch"
    p = subprocess.run([str(exe), "push", "-a", "--merge=merge"], cwd=w.root, capture_output=True, text=True)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"conflict in {CU}" in p.stdout
    assert _markers((w.checkout / CU).read_text()) == ["<<<<<<< current", "=======", ">>>>>>> 0002-wider.patch"]
