"""A patch is found by every name a person has for it (issue 16, items 2–4).

The name typed to ``new``, the file name, its number, a prefix, and the ``layer/name`` forms
that ``review`` and ``blame`` print are accepted by every verb taking a PATCH; an empty series
is an applied state right after ``backend add``; ``--layer common`` (and ``common/NAME``)
reach the common layer while a vendor layer is on top; ``new`` keeps a series in number order.
"""

from __future__ import annotations

from pathlib import Path

from tests.wsutil import WS, make_workspace


def _ok(w: WS, *args: str) -> str:
    r = w.cli(*args)
    assert r.exit_code == 0, f"fspatch {' '.join(args)} -> {r.exit_code}\n{r.output}"
    return r.output


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _vendor_on_top(w: WS) -> None:
    """The common layer applied, vendor acme's layer on it with one patch 0001-npu.patch."""
    _ok(w, "vendor", "add", "acme", "--device-type", "Acme_NPU")
    _ok(w, "vendor", "layer", "acme", "minillm", "--task", "inference")
    _ok(w, "apply", "minillm", "--vendor", "acme", "--task", "inference")
    _ok(w, "new", "npu", "-m", "Run on the Acme NPU", "--vendor", "acme")
    _edit(w.checkout / "minillm" / "flagscale_device.py", '"cuda"', '"npu"')
    _ok(w, "refresh", "--vendor", "acme")


def test_the_name_given_to_new_is_accepted_back_by_every_verb(tmp_path: Path) -> None:
    """`new second` makes 0004-second.patch; push/pop/goto/diff/refresh/rename/delete all take 'second'."""
    w = make_workspace(tmp_path)
    _ok(w, "apply", "minillm")
    out = _ok(w, "new", "second", "-m", "Log the batch size")
    assert out.strip() == "Patch series/minillm/0004-second.patch is now on top"
    _edit(w.checkout / "minillm" / "model_runner.py", "class ModelRunner", "class ModelRunner  # batch")
    assert _ok(w, "refresh", "second").strip() == "Refreshed series/minillm/0004-second.patch (1 file)"
    assert "model_runner.py" in _ok(w, "diff", "second")
    assert _ok(w, "pop", "0003").splitlines()[-1] == "Now at 0003-device-selection.patch"
    assert _ok(w, "push", "second").splitlines() == ["Applying 0004-second.patch", "Now at 0004-second.patch"]
    _ok(w, "goto", "device-selection")
    assert _ok(w, "goto", "second").splitlines()[-1] == "Now at 0004-second.patch"
    assert _ok(w, "rename", "second", "batch-log").strip() == "Renamed 0004-second.patch to 0004-batch-log.patch"
    assert "0004-batch-log.patch" in (w.series_dir / "series").read_text()
    _ok(w, "pop")
    assert _ok(w, "delete", "batch-log").strip() == "Deleted 0004-batch-log.patch"
    assert not (w.series_dir / "0004-batch-log.patch").exists()


def test_a_name_with_spaces_is_found_by_what_was_typed(tmp_path: Path) -> None:
    """`new "enable gems"` stores 0004-enable-gems.patch; 'enable gems' and 'enable-gems' both find it."""
    w = make_workspace(tmp_path)
    _ok(w, "apply", "minillm")
    assert "0004-enable-gems.patch" in _ok(w, "new", "enable gems")
    _ok(w, "pop")
    assert _ok(w, "push", "enable gems").splitlines()[-1] == "Now at 0004-enable-gems.patch"
    _ok(w, "pop")
    assert _ok(w, "push", "enable-gems").splitlines()[-1] == "Now at 0004-enable-gems.patch"


def test_numbers_and_prefixes(tmp_path: Path) -> None:
    """A patch by its number with or without zeros (2, 0002), without .patch, or by a unique prefix."""
    w = make_workspace(tmp_path)
    _ok(w, "apply", "minillm")
    for query in ("2", "0002", "0002-rmsnorm-block-size", "0002-rms", "rmsnorm-block-size"):
        assert _ok(w, "goto", query).splitlines()[-1] == "Now at 0002-rmsnorm-block-size.patch", query
        _ok(w, "push", "-a")
    r = w.cli("goto", "000")
    assert r.exit_code == 2 and "ambiguous" in r.output and "0001-enable-flag-gems.patch" in r.output
    r = w.cli("goto", "nosuch")
    assert r.exit_code == 2 and r.output.strip() == "error: no patch 'nosuch' in series/minillm/series"


def test_common_patches_are_reachable_while_a_vendor_layer_is_on_top(tmp_path: Path) -> None:
    """diff takes 0002, common/0002, series/minillm/<file>, --layer common; vendor/acme/0001 and acme/npu too."""
    w = make_workspace(tmp_path)
    _vendor_on_top(w)
    common = _ok(w, "diff", "common/0002")
    assert "csrc/kernels/rmsnorm.cu" in common and "flagscale_device" not in common
    assert _ok(w, "diff", "0002") == common  # not in the vendor layer: found in the common one
    assert _ok(w, "diff", "series/minillm/0002-rmsnorm-block-size.patch") == common
    assert _ok(w, "diff", "--layer", "common", "0002") == common
    assert _ok(w, "diff", "--layer", "common", "rmsnorm-block-size") == common
    vendor = _ok(w, "diff", "vendor/acme/0001-npu.patch")
    assert '"npu"' in vendor
    assert _ok(w, "diff", "acme/npu") == vendor
    assert _ok(w, "diff", "npu") == vendor
    assert _ok(w, "diff", "vendors/acme/minillm/0001-npu.patch") == vendor
    series = _ok(w, "series", "--layer", "common")
    assert series.splitlines() == [
        "+ 0001-enable-flag-gems.patch",
        "+ 0002-rmsnorm-block-size.patch",
        "> 0003-device-selection.patch",  # the top of its layer
    ]
    assert _ok(w, "series").splitlines() == ["> 0001-npu.patch"]
    # the vendor option keeps working as the layer's other spelling
    assert _ok(w, "series", "--vendor", "common") == series
    r = w.cli("diff", "nosuch/0001")
    assert r.exit_code == 2 and "no layer 'nosuch'" in r.output


def test_a_patch_number_present_in_two_layers_is_taken_from_the_current_layer(tmp_path: Path) -> None:
    """0001 exists in both layers: the current (vendor) layer's wins; common/0001 reaches the other."""
    w = make_workspace(tmp_path)
    _vendor_on_top(w)
    assert '"npu"' in _ok(w, "diff", "0001")
    assert "flag_gems" in _ok(w, "diff", "common/0001")


def test_new_right_after_backend_add_works_on_the_empty_series(tmp_path: Path) -> None:
    """An upstream with an empty series is an applied state: new, refresh, series, status need no apply."""
    w = make_workspace(tmp_path, patches=False)
    assert _ok(w, "new", "first", "-m", "First change").strip() == "Patch series/minillm/0001-first.patch is now on top"
    _edit(w.checkout / "minillm" / "model_runner.py", "class ModelRunner", "class ModelRunner  # first")
    assert _ok(w, "refresh").strip() == "Refreshed series/minillm/0001-first.patch (1 file)"
    assert _ok(w, "series").splitlines() == ["> 0001-first.patch"]
    assert "common: 1/1 applied, top 0001-first.patch" in _ok(w, "status")


def test_push_right_after_backend_add_pushes_the_series(tmp_path: Path) -> None:
    """With HEAD at the pinned upstream and no stack yet, push -a pushes the common layer (as quilt does)."""
    w = make_workspace(tmp_path)
    out = _ok(w, "push", "-a")
    assert out.splitlines()[-1] == "Now at 0003-device-selection.patch"
    assert _ok(w, "series").splitlines()[-1] == "> 0003-device-selection.patch"


def test_new_in_a_vendor_layer_with_nothing_applied_keeps_number_order(tmp_path: Path) -> None:
    """The vendor layer holds 0001, 0002 unapplied; `new first` goes first as 0000: series 0000, 0001, 0002."""
    w = make_workspace(tmp_path)
    _vendor_on_top(w)
    _ok(w, "new", "second-npu", "--vendor", "acme")
    _ok(w, "pop", "-a", "--vendor", "acme")
    out = _ok(w, "new", "first", "--vendor", "acme")
    assert out.strip() == "Patch vendors/acme/minillm/0000-first.patch is now on top"
    listed = [line.split()[1] for line in _ok(w, "series", "--vendor", "acme").splitlines()]
    assert listed == ["0000-first.patch", "0001-npu.patch", "0002-second-npu.patch"]
    assert listed == sorted(listed)


def test_new_in_the_middle_never_writes_numbers_out_of_order(tmp_path: Path) -> None:
    """Between 0002 and 0003 no number is free: the new patch stays unnumbered rather than 0004 before 0003."""
    w = make_workspace(tmp_path)
    _ok(w, "apply", "minillm", "--upto", "0002")
    assert _ok(w, "new", "between").strip() == "Patch series/minillm/between.patch is now on top"
    names = [line.split()[1] for line in _ok(w, "series").splitlines()]
    assert names == [
        "0001-enable-flag-gems.patch",
        "0002-rmsnorm-block-size.patch",
        "between.patch",
        "0003-device-selection.patch",
    ]
    assert _ok(w, "pop", "0002").splitlines() == ["Removing between.patch", "Now at 0002-rmsnorm-block-size.patch"]
    assert _ok(w, "push", "between").splitlines()[-1] == "Now at between.patch"
