"""Vendors and vendor layers: add, apply with --vendor/--task, and the stack verbs on them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fspatch.cli import main_group
from fspatch.commands import apply, new, pop, push, refresh
from fspatch.commands import vendor as vendor_cmd
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import UsageError
from tests.test_vendor_kit import add_vendor, make_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = make_workspace(tmp_path, tiny=False)
    add_vendor(w)
    return w


def test_vendor_add_writes_valid_vendor_yaml(tmp_path: Path) -> None:
    """vendor add creates vendors/<name>/vendor.yaml with the device type and contact, schema-valid."""
    w = make_workspace(tmp_path, tiny=False)
    r = CliRunner().invoke(
        main_group, ["-C", str(w.root), "vendor", "add", "metax", "--device-type", "Metax_C550", "--contact", "Metax <m@x.org>"]
    )
    assert r.exit_code == 0, r.output
    info = w.vendor_info("metax")
    assert info["device_type"] == "Metax_C550" and info["contact"] == "Metax <m@x.org>"
    assert w.read_yaml("vendors/metax/vendor.yaml", "vendor")["name"] == "metax"


def test_vendor_layer_records_tasks_models_and_base(ws: Workspace) -> None:
    """A new layer has an empty series and layer.yaml with tasks, models, upstream commit and common fingerprint."""
    meta = ws.layer_meta(LayerRef("minillm", "cambricon_mlu"))
    assert list(meta["tasks"]) == ["inference"]
    assert list(meta["models"]) == ["Qwen3-8B"]
    assert meta["base"]["upstream_commit"] == ws.backends()["minillm"].commit
    assert len(meta["base"]["common_fingerprint"]) == 64
    assert ws.read_layer_series(LayerRef("minillm", "cambricon_mlu")) == []


def test_apply_with_undeclared_task_is_a_clear_error(ws: Workspace) -> None:
    """apply --vendor V --task T refuses when the layer does not declare T, naming the declared tasks."""
    with pytest.raises(UsageError, match="declares no task 'train'.*inference"):
        apply.run(ws, "minillm", vendor="cambricon_mlu", task="train")


def test_vendor_stack_verbs_work_like_common(ws: Workspace) -> None:
    """new/refresh/pop/push --vendor build the vendor layer on top of the whole common layer."""
    r = apply.run(ws, "minillm", vendor="cambricon_mlu", task="inference")
    assert [layer.layer for layer in r.layers] == ["common", "vendor/cambricon_mlu"]
    co = ws.checkout_path("minillm")
    new.run(ws, "minillm", "mlu device", vendor="cambricon_mlu")
    dev = co / "minillm" / "flagscale_device.py"
    dev.write_text(dev.read_text().replace('"cuda"', '"mlu"'))
    rr = refresh.run(ws, "minillm", vendor="cambricon_mlu")
    assert rr.file_changed and rr.files == ("minillm/flagscale_device.py",)
    layer = LayerRef("minillm", "cambricon_mlu")
    names = [e.name for e in ws.read_layer_series(layer)]
    assert names == ["0001-mlu-device.patch"]
    text = (ws.layer_dir(layer) / names[0]).read_text()
    assert '+    return os.environ.get("FLAGSCALE_DEVICE", "mlu")' in text
    # the vendor patch holds only the vendor's change, none of the common layer's
    assert "FLAGSCALE MODIFICATION" not in text
    p = pop.run(ws, "minillm", vendor="cambricon_mlu")
    assert p.popped == ("0001-mlu-device.patch",)
    assert '"cuda"' in dev.read_text()
    push.run(ws, "minillm", vendor="cambricon_mlu")
    assert '"mlu"' in dev.read_text()


def test_refresh_vendor_captures_in_place_edits_to_later_patch(ws: Workspace) -> None:
    """Editing the checkout and running refresh --vendor updates only the vendor's top patch."""
    apply.run(ws, "minillm", vendor="cambricon_mlu")
    new.run(ws, "minillm", "first", vendor="cambricon_mlu")
    co = ws.checkout_path("minillm")
    (co / "README.md").write_text((co / "README.md").read_text() + "MLU build notes.\n")
    refresh.run(ws, "minillm", vendor="cambricon_mlu")
    common_before = {p.name: p.read_bytes() for p in (ws.root / "series" / "minillm").iterdir()}
    (co / "README.md").write_text((co / "README.md").read_text() + "More notes.\n")
    res = CliRunner().invoke(main_group, ["-C", str(ws.root), "refresh", "--vendor", "cambricon_mlu"])
    assert res.exit_code == 0, res.output
    text = (ws.root / "vendors/cambricon_mlu/minillm/0001-first.patch").read_text()
    assert "+More notes." in text
    assert common_before == {p.name: p.read_bytes() for p in (ws.root / "series" / "minillm").iterdir()}


def test_unknown_vendor_is_a_usage_error(ws: Workspace) -> None:
    """A vendor with no vendor.yaml is refused, listing the known vendors."""
    with pytest.raises(UsageError, match="unknown vendor 'nope'.*cambricon_mlu"):
        apply.run(ws, "minillm", vendor="nope")


def test_new_layer_needs_a_task(tmp_path: Path) -> None:
    """A vendor layer cannot be created without saying what task it is for."""
    w = make_workspace(tmp_path, tiny=False)
    vendor_cmd.run_add(w, "v1", device_type="X_Y")
    with pytest.raises(UsageError, match="--task"):
        vendor_cmd.run_layer(w, "v1", "minillm")


def test_vendor_refresh_records_its_base(tmp_path: Path) -> None:
    """refresh --vendor that changes the patch records the pin and the common fingerprint in layer.yaml."""
    from fspatch.core.rebase import common_fingerprint
    from fspatch.core.yamlio import load_yaml, save_yaml
    from tests.wsutil import make_workspace as make_example

    w = make_example(tmp_path)
    vendor_cmd.run_add(w.ws(), "acme", device_type="Acme_NPU", contact="a@x")
    vendor_cmd.run_layer(w.ws(), "acme", "minillm", tasks=("inference",), models=())
    meta_path = w.root / "vendors/acme/minillm/layer.yaml"
    meta = load_yaml(meta_path, "layer")
    meta["base"]["common_fingerprint"] = "0" * 64  # as if made on an older common layer
    save_yaml(meta_path, meta)
    apply.run(w.ws(), "minillm", vendor="acme")
    new.run(w.ws(), "minillm", "npu", message="NPU", vendor="acme")
    before = meta_path.read_bytes()
    refresh.run(w.ws(), "minillm", vendor="acme")  # no edit: no byte changes
    assert meta_path.read_bytes() == before
    (w.checkout / "README.md").write_text("npu\n")
    refresh.run(w.ws(), "minillm", vendor="acme")
    base = load_yaml(meta_path, "layer")["base"]
    assert base["common_fingerprint"] == common_fingerprint(w.ws(), "minillm")
    assert base["upstream_commit"] == w.ws().backend("minillm").commit
