"""Refresh records exactly the checkout's edits; with no edits it changes no byte anywhere."""

from __future__ import annotations

import os
from pathlib import Path

import pygit2

from fspatch.commands import apply as apply_cmd
from fspatch.commands import diff as diff_cmd
from fspatch.commands import goto as goto_cmd
from fspatch.commands import new as new_cmd
from fspatch.commands import refresh as refresh_cmd
from fspatch.core.patch import parse_patch
from tests.test_apply_every_patch_kind import _steps, _upstream
from tests.wsutil import make_workspace, snapshot, write_patches


def _refs(path: Path) -> dict[str, str]:
    repo = pygit2.Repository(str(path))
    return {name: str(repo.references[name].target) for name in repo.references}


def test_refresh_without_edits_is_a_byte_for_byte_noop(tmp_path: Path) -> None:
    """apply, then refresh of every patch in turn: no patch file, series, ref or checkout file changes."""
    up = _upstream(tmp_path)
    w = make_workspace(tmp_path, patches=False, upstream=up)
    write_patches(up, "v1.0", w.series_dir, _steps())
    apply_cmd.run(w.ws(), "minillm")
    before_ws, before_refs = snapshot(w.root), _refs(w.checkout)
    names = [line for line in (w.series_dir / "series").read_text().split("\n") if line]
    for name in reversed(names):
        goto_cmd.run(w.ws(), "minillm", name) if name != names[-1] else None
        r = refresh_cmd.run(w.ws(), "minillm")
        assert not r.file_changed, name
    goto_cmd.run(w.ws(), "minillm", names[-1])
    assert snapshot(w.root) == before_ws
    assert _refs(w.checkout) == before_refs


def test_refresh_captures_staged_unstaged_untracked_deletes_renames_modes_binaries(tmp_path: Path) -> None:
    """Every kind of edit in the checkout lands in the top patch, and re-applying reproduces the tree."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    co = w.checkout
    new_cmd.run(w.ws(), "minillm", "all-kinds", message="Every kind of edit")
    (co / "minillm/untracked.py").write_text(
        "# --- FLAGSCALE MODIFICATION BEG ---\nx = 1\n# --- FLAGSCALE MODIFICATION END ---\n"
    )
    (co / "README.md").write_text("# minillm\n\nchanged\n")
    repo = pygit2.Repository(str(co))
    repo.index.add("README.md")
    repo.index.write()  # staged
    (co / "README.md").write_text("# minillm\n\nchanged twice\n")  # and unstaged on top
    (co / "csrc/ops.h").unlink()
    os.rename(co / "CMakeLists.txt", co / "build.cmake")
    os.chmod(co / "minillm/__init__.py", 0o755)
    (co / "assets/logo.bin").write_bytes(b"\x00\xffnew binary\x00" * 40)
    want = {p: d for p, d in snapshot(co).items()}
    r = refresh_cmd.run(w.ws(), "minillm")
    assert r.file_changed
    patch = parse_patch((w.series_dir / r.patch).read_bytes())
    assert patch.subject == "Every kind of edit"
    kinds = {f.path: f.status for f in patch.files}
    assert kinds["minillm/untracked.py"] == "A"
    assert kinds["csrc/ops.h"] == "D"
    assert kinds["build.cmake"] == "R"
    assert any(f.binary for f in patch.files)
    assert pygit2.Repository(str(co)).status() == {}
    # Rebuild from the files alone: the same bytes come back.
    apply_cmd.run(w.ws(), "minillm", upto="0001")
    assert (co / "README.md").read_text() != "# minillm\n\nchanged twice\n"
    apply_cmd.run(w.ws(), "minillm")
    assert snapshot(co) == want
    assert os.access(co / "minillm/__init__.py", os.X_OK)


def test_refresh_of_a_lower_patch_moves_edits_into_it(tmp_path: Path) -> None:
    """refresh PATCH puts the edits into PATCH; the patches above are replayed, only PATCH's file changes."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    files_before = {p.name: p.read_bytes() for p in w.series_dir.iterdir()}
    runner = w.checkout / "minillm/model_runner.py"
    runner.write_text(
        runner.read_text().replace(
            "        return hidden\n", "        return hidden  # --- FLAGSCALE MODIFICATION ---\n"
        )
    )
    r = refresh_cmd.run(w.ws(), "minillm", patch="0001")
    assert r.file_changed and r.patch == "0001-enable-flag-gems.patch"
    changed = [n for n, data in files_before.items() if (w.series_dir / n).read_bytes() != data]
    assert changed == ["0001-enable-flag-gems.patch"]
    assert b"FLAGSCALE MODIFICATION ---" in (w.series_dir / "0001-enable-flag-gems.patch").read_bytes()
    assert pygit2.Repository(str(w.checkout)).status() == {}
    d = diff_cmd.run(w.ws(), "minillm", patch="0001")
    assert b"return hidden  # --- FLAGSCALE" in d.text


def test_diff_shows_top_patch_with_unrefreshed_edits(tmp_path: Path) -> None:
    """`fspatch diff` without a patch is what refresh would write."""
    w = make_workspace(tmp_path)
    apply_cmd.run(w.ws(), "minillm")
    (w.checkout / "minillm/layers/norm.py").write_text((w.checkout / "minillm/layers/norm.py").read_text() + "# tail\n")
    text = diff_cmd.run(w.ws(), "minillm").text
    assert b"+# tail" in text and b"minillm/flagscale_device.py" in text
    refresh_cmd.run(w.ws(), "minillm")
    assert diff_cmd.run(w.ws(), "minillm").text == diff_cmd.run(w.ws(), "minillm", patch="0003").text
