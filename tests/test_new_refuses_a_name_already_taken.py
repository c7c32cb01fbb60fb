"""``new NAME`` refuses a NAME another patch of the layer already answers to (issue 16 audit, item 2).

A patch is named back by what was typed to ``new`` (``push tweak`` finds ``0003-tweak.patch``), so
a second ``new tweak`` — which quilt would refuse as an existing patch — would make ``tweak`` mean
the new patch, or nothing.  It is an input error naming the patch that has the name; nothing changes.
"""

from __future__ import annotations

from pathlib import Path

from tests.wsutil import WS, make_workspace, snapshot


def test_new_with_the_name_of_an_unapplied_or_applied_patch_is_refused(tmp_path: Path) -> None:
    w: WS = make_workspace(tmp_path)
    assert w.cli("apply").exit_code == 0
    assert w.cli("pop").exit_code == 0  # 0003-device-selection.patch is unapplied now
    before = snapshot(w.root)
    r = w.cli("new", "device-selection")
    assert r.exit_code == 2
    assert (
        "patch series/minillm/0003-device-selection.patch is already named 'device-selection'; "
        "choose another name for the new patch"
    ) in r.output
    r = w.cli("new", "enable flag gems")
    assert r.exit_code == 2 and "series/minillm/0001-enable-flag-gems.patch is already named" in r.output
    assert snapshot(w.root) == before

    r = w.cli("new", "device-selection-npu")
    assert r.exit_code == 0, r.output
    assert w.cli("top").output == "device-selection-npu.patch\n"
    assert w.cli("files", "device-selection").exit_code == 0  # still the old patch
    assert "minillm/flagscale_device.py" in w.cli("files", "device-selection").output


def test_rename_to_a_name_another_patch_answers_to_is_refused(tmp_path: Path) -> None:
    """rename 0002 device-selection would make 'device-selection' name two patches: refused, nothing changes."""
    w: WS = make_workspace(tmp_path)
    assert w.cli("apply").exit_code == 0
    before = snapshot(w.root)
    r = w.cli("rename", "0002", "device-selection")
    assert r.exit_code == 2
    assert r.output.startswith("error: cannot rename to ")
    assert "device-selection.patch: series/minillm/0003-device-selection.patch is already named 'device-selection'" in r.output
    assert snapshot(w.root) == before
    r = w.cli("rename", "0002", "0002-rmsnorm-wide-blocks")
    assert r.exit_code == 0 and r.output == "Renamed 0002-rmsnorm-block-size.patch to 0002-rmsnorm-wide-blocks.patch\n"
