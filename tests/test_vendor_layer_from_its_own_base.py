"""import flagscale: a vendor layer made at an older base is split there and brought to the pin.

The generated FlagScale repository (tests/fsbase_fixture.py) has vendors made on upstream U0
with the common layer of FlagScale commit F1; the workspace pins U3 with F2's (changed) common
layer.  A clean layer arrives at the pin with only its own changes; a conflicting one is
imported pending and finished with apply → edit → continue.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from fspatch.commands import import_flagscale
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.core.yamlio import parse_yaml
from tests import fsbase_fixture as fx


def _import(f: fx.FS, *extra: str) -> tuple[int, str]:
    return f.cli("import", "flagscale", str(f.fs), *extra)


def test_old_base_layer_subtracts_its_own_common_layer_and_arrives_clean(tmp_path: Path) -> None:
    f = fx.make(tmp_path)
    code, out = _import(f)
    assert code == 1, out  # Hygon is left pending; Metax is not held back by it
    assert f"found at {f.f1[:9]} (upstream {f.u[0][:12]}), brought to {f.u[3][:12]}: 3 clean, 0 conflicts" in out
    layer = f.ws / "vendors/metax_c550/megatron"
    patches = sorted(layer.glob("*.patch"))
    body = b"".join(p.read_bytes() for p in patches)
    # no hunk of the common layer of its time, nor of today's, is in the vendor layer
    assert b"# flagscale" not in body
    assert b"+    return x + 15  # metax" in body and b"MACA" in body and b"// metax" in body
    meta = parse_yaml((layer / "layer.yaml").read_bytes(), "layer.yaml")
    assert meta["base"]["upstream_commit"] == f.u[3]
    out_dir = tmp_path / "metax_tree"  # --to: Hygon's pending patches wait in the checkout's flow
    code, out = f.cli("apply", "megatron", "--vendor", "metax_c550", "--to", str(out_dir))
    assert code == 0, out
    assert fx.tree_files(out_dir) == fx.metax_at_pin()


def test_report_names_base_pin_conflict_file_region_and_culprit(tmp_path: Path) -> None:
    f = fx.make(tmp_path)
    r = import_flagscale.run(Workspace.load(f.ws), f.fs)
    by = {v.vendor: v for v in r.vendors}
    h = by["hygon_bw1000"].forward
    assert h is not None
    assert (h.found_at, h.upstream, h.brought_to, h.clean, h.conflicts) == (f.f1, f.u[0], f.u[3], 1, 1)
    assert h.common_source == "history" and not h.notes
    [c] = h.regions
    assert c.file == fx.T and c.region == "line 21" and c.culprit.endswith("Scale step 20")
    assert c.culprit.startswith(f.u[3][:12])
    assert r.pending == ("series/megatron/pending.yaml",)


def test_json_report_carries_the_forward_fields(tmp_path: Path) -> None:
    f = fx.make(tmp_path)
    code, out = _import(f, "--format", "json")
    assert code == 1, out
    doc = json.loads(out)
    fwd = {v["vendor"]: v["forward"] for v in doc["vendors"]}
    assert fwd["metax_c550"]["found_at"] == f.f1 and fwd["metax_c550"]["upstream"] == f.u[0]
    assert (fwd["hygon_bw1000"]["clean"], fwd["hygon_bw1000"]["conflicts"]) == (1, 1)
    assert fwd["hygon_bw1000"]["regions"][0]["file"] == fx.T
    assert doc["pending"] == ["series/megatron/pending.yaml"]


def test_conflicting_layer_is_pending_and_finished_with_apply_edit_continue(tmp_path: Path) -> None:
    f = fx.make(tmp_path)
    code, out = _import(f)
    assert code == 1 and "pending: series/megatron/pending.yaml" in out, out
    layer = LayerRef("megatron", "hygon_bw1000")
    ws = Workspace.load(f.ws)
    names = [e.name for e in ws.read_layer_series(layer)]
    assert names == ["0001-megatron-core-model.py.patch", "0002-megatron-training-train.py.patch"]
    code, out = f.cli("check")
    assert code == 1 and "pending-patch" in out and "0002-megatron-training-train.py.patch" in out, out
    code, out = f.cli("apply", "megatron")
    assert code == 1, out
    path = f.ws / "third_party/megatron" / fx.T
    text = path.read_text()
    assert "<<<<<<< " in text and ">>>>>>> patch 0002-megatron-training-train.py.patch" in text
    path.write_text(re.sub(r"<<<<<<< .*?>>>>>>> [^\n]*\n", "step_20 = 200  # hygon\n", text, flags=re.S))
    code, out = f.cli("continue")
    assert code == 0, out
    assert not (f.ws / "series/megatron/pending.yaml").exists()
    assert (
        "+step_20 = 200  # hygon"
        in (f.ws / "vendors/hygon_bw1000/megatron/0002-megatron-training-train.py.patch").read_text()
    )
    out_dir = tmp_path / "hygon_tree"
    code, out = f.cli("apply", "megatron", "--vendor", "hygon_bw1000", "--to", str(out_dir))
    assert code == 0, out
    assert fx.tree_files(out_dir) == fx.hygon_at_pin("step_20 = 200  # hygon\n")


def test_strict_imports_nothing_when_a_layer_conflicts(tmp_path: Path) -> None:
    f = fx.make(tmp_path)
    before = fx.tree_files(f.ws)
    code, out = _import(f, "--strict")
    assert code == 1 and "hardware/Hygon_BW1000" in out and "train.py" in out, out
    assert fx.tree_files(f.ws) == before


def test_without_flagscale_history_the_current_common_layer_is_used_and_said(tmp_path: Path) -> None:
    f = fx.make(tmp_path)
    import shutil

    plain = tmp_path / "plain"
    shutil.copytree(f.fs, plain, ignore=shutil.ignore_patterns(".git"))
    before = fx.tree_files(f.ws)
    # today's common layer hunk differs from the one the vendor embedded: refused, and the reason said
    code, out = f.cli("import", "flagscale", str(plain), "--strict")
    assert code == 1, out
    assert "does not apply" in out and "not a git repository" in out and "current common layer" in out, out
    assert fx.tree_files(f.ws) == before
    code, out = f.cli("import", "flagscale", str(plain))  # without --strict: the directory is reported failed
    assert "[diff]: failed" in out and "current common layer is subtracted" in out, out


def test_encrypted_layer_that_conflicts_fails_instead_of_pending_in_plaintext(tmp_path: Path) -> None:
    """pending.yaml would hold the decrypted patches: the encrypted layer is reported failed, the rest imported."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from fspatch.core import crypto
    from scripts.example import git

    f = fx.make(tmp_path)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "private_key.pem"
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    hygon = f.fs / "hardware/Hygon_BW1000/Megatron-LM"
    for p in sorted(hygon.rglob("*.patch")):
        p.with_name(p.name + ".encrypted").write_bytes(crypto.encrypt(p.read_bytes(), key.public_key()))
        p.unlink()
    git(f.fs, "add", "-A")
    git(f.fs, "commit", "-qm", "F3: Hygon encrypted")
    code, out = _import(f, "--key", str(pem))
    assert "hardware/Hygon_BW1000/Megatron-LM [per-file]: failed" in out and "decrypted" in out, out
    assert code == 0 and not (f.ws / "series/megatron/pending.yaml").exists(), out
    assert (f.ws / "vendors/metax_c550/megatron/layer.yaml").is_file()
    assert not list((f.ws / "vendors").rglob("*train.py*"))


def test_pending_import_travels_through_git_and_skip_drops_the_patch(tmp_path: Path) -> None:
    """A fresh clone of the workspace resumes the pending layer (its base rebuilt from pending.yaml); skip drops it."""
    import subprocess

    from scripts.example import git

    f = fx.make(tmp_path)
    assert _import(f)[0] == 1
    (f.ws / ".gitignore").write_text("third_party/\n")
    git(f.ws, "init", "-q")
    git(f.ws, "add", "-A")
    git(f.ws, "commit", "-qm", "import")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(f.ws), str(clone)], check=True)
    c = fx.FS(f.up, f.fs, clone, f.u, f.f1, f.f2)
    code, out = c.cli("apply", "megatron")
    assert code == 1 and "0002-megatron-training-train.py.patch" in out, out
    assert "<<<<<<< " in (clone / "third_party/megatron" / fx.T).read_text()
    code, out = c.cli("skip")
    assert code == 0, out
    assert not (clone / "series/megatron/pending.yaml").exists()
    names = [e.name for e in Workspace.load(clone).read_layer_series(LayerRef("megatron", "hygon_bw1000"))]
    assert names == ["0001-megatron-core-model.py.patch"]
    out_dir = tmp_path / "tree"
    assert c.cli("apply", "megatron", "--vendor", "hygon_bw1000", "--to", str(out_dir))[0] == 0
    assert fx.tree_files(out_dir) == fx.expected_pin({fx.M: fx.hygon_at_pin("")[fx.M]})


def test_diff_made_up_to_flagscales_gitlink_is_split_on_the_gitlink(tmp_path: Path) -> None:
    """A vendor diff from backends_commit (U0) to FlagScale's newer submodule (U1) + common + vendor:
    split on the gitlink, upstream's U0..U1 change is not taken for the vendor's."""
    from scripts.example import git

    f = fx.make(tmp_path)
    # FlagScale F4: submodule at U1, the common layer of F1 remade on U1, a vendor made that way
    common_dir = f.fs / "flagscale/backends/Megatron-LM"
    keep = {p: p.read_bytes() for p in common_dir.rglob("*.patch")}
    fx.set_common(f, 1, fx.C1)
    git(f.fs, "add", "-A")
    git(f.fs, "update-index", "--add", "--cacheinfo", f"160000,{f.u[1]},third_party/Megatron-LM")
    git(f.fs, "commit", "-qm", "F4: submodule at U1")
    f4 = git(f.fs, "rev-parse", "HEAD").strip()
    for p, data in keep.items():  # back to today's common layer (F2's), as main has it
        p.write_bytes(data)
    vendor = {fx.M: fx.model_py(**fx.U1_M, **fx.C1, f7="    return x + 7  # iluvatar\n")}
    d = fx.diff_from(f, 0, vendor)
    iluvatar = f.fs / "hardware/Iluvatar_BI/Megatron-LM"
    iluvatar.mkdir(parents=True)
    (iluvatar / "diff.patch").write_bytes(d[fx.M])
    (iluvatar / "diff.yaml").write_text(fx.diff_yaml(f.u[0], f4, "Iluvatar_BI"))
    git(f.fs, "add", "-A")
    git(f.fs, "commit", "-qm", "F5: Iluvatar")
    r = import_flagscale.run(Workspace.load(f.ws), f.fs)
    fwd = {v.vendor: v.forward for v in r.vendors}["iluvatar_bi"]
    assert fwd is not None
    assert (fwd.upstream, fwd.backends_commit, fwd.found_at) == (f.u[1], f.u[0], f4)
    assert (fwd.clean, fwd.conflicts) == (1, 0)
    body = b"".join(p.read_bytes() for p in (f.ws / "vendors/iluvatar_bi/megatron").glob("*.patch"))
    assert b"# iluvatar" in body and b"190" not in body and b"# flagscale" not in body
