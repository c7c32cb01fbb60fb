"""``fspatch delete`` without PATCH deletes the top patch, as ``quilt delete`` does (issue 16 audit).

The patch is popped first (its change leaves the checkout) and its file removed; with nothing
applied there is no top, which is an input error naming what to type instead, and nothing changes.
"""

from __future__ import annotations

from pathlib import Path

from tests.wsutil import WS, make_workspace, snapshot


def test_delete_without_a_name_pops_and_deletes_the_top_patch(tmp_path: Path) -> None:
    w: WS = make_workspace(tmp_path)
    assert w.cli("apply").exit_code == 0
    top = "0003-device-selection.patch"
    assert (w.checkout / "minillm" / "flagscale_device.py").is_file()  # added by the top patch
    r = w.cli("delete")
    assert r.exit_code == 0, r.output
    assert r.output == f"Removing {top}\nDeleted {top}\n"
    assert not (w.series_dir / top).exists()
    assert top not in (w.series_dir / "series").read_text()
    assert not (w.checkout / "minillm" / "flagscale_device.py").exists()
    assert w.cli("top").output == "0002-rmsnorm-block-size.patch\n"
    r = w.cli("delete", "--keep")
    assert r.exit_code == 0 and r.output.endswith("Deleted 0002-rmsnorm-block-size.patch from the series (file kept)\n")
    assert (w.series_dir / "0002-rmsnorm-block-size.patch").is_file()


def test_delete_without_a_name_and_nothing_applied_changes_nothing(tmp_path: Path) -> None:
    w: WS = make_workspace(tmp_path)
    assert w.cli("apply").exit_code == 0
    assert w.cli("pop", "-a").exit_code == 0
    before = snapshot(w.root)
    r = w.cli("delete")
    assert r.exit_code == 2
    assert "no patches of series/minillm are applied; name one: 'fspatch delete PATCH'" in r.output
    assert snapshot(w.root) == before
