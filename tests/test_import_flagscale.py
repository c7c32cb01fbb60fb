"""import flagscale: a generated FlagScale-style repository becomes common and vendor layers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fspatch.commands import apply, export, import_flagscale
from fspatch.core import crypto
from fspatch.core.flagscale import hunk_keys
from fspatch.core.patch import parse_diff, parse_patch
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import UsageError
from scripts.example import common_patches
from tests.gitutil import git
from tests.test_vendor_kit import commit_all, make_workspace, tiny_common, tree_files

HIST = """\
Cambricon_MLU:
  inference:
  - backends: [MiniLLM]
    commits: [1111111111111111111111111111111111111111]
  train:
  - backends: [MiniLLM, TinyServe]
    commits: [2222222222222222222222222222222222222222, 3333333333333333333333333333333333333333]
"""


def _diff_yaml(commit: str, backend: str, device: str, tasks: list[str]) -> str:
    return (
        f"backends_commit:\n  {backend}: {commit}\nbackends_version:\n  {backend}: v1\n"
        f"commit: {'ab' * 20}\ncontact: {device} Team <t@{device.lower()}.org>\ndevice_type: {device}\n"
        "models:\n- Qwen3-8B\ntask:\n" + "".join(f"- {t}\n" for t in tasks)
    )


def _final(patches: list[tuple[str, str, str, dict[str, bytes | None]]]) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for *_, changes in patches:
        out.update(changes)
    return out


def _diffs(upstream: Path, ref: str, scratch: Path, before: dict[str, bytes | None], after: dict[str, bytes | None]) -> dict[str, bytes]:
    """Per-file git diffs from (ref + before) to (ref + before + after)."""
    from scripts.example import write_tree

    git(upstream.parent, "clone", "-q", str(upstream), str(scratch))
    git(scratch, "checkout", "-q", ref)
    write_tree(scratch, before)
    git(scratch, "add", "-A")
    git(scratch, "commit", "-q", "--allow-empty", "-m", "base")
    write_tree(scratch, after)
    git(scratch, "add", "-A")
    out = {}
    for path in sorted(after):
        out[path] = git(scratch, "diff", "--cached", "--full-index", "--binary", "--", path)
    shutil.rmtree(scratch)
    return out


class Gen:
    """The generated FlagScale repository and what went into it."""

    def __init__(self, tmp: Path, ws: Workspace) -> None:
        self.root = tmp / "FlagScale"
        up_m, up_t = tmp / "up_minillm", tmp / "up_tiny"
        m_commit, t_commit = ws.backends()["minillm"].commit, ws.backends()["tinyserve"].commit
        common_m = _final(common_patches())
        common_t = _final(tiny_common())
        # common per-file patches
        for name, d in (("MiniLLM", _diffs(up_m, "v1.0", tmp / "s1", {}, common_m)),
                        ("TinyServe", _diffs(up_t, "v0.1", tmp / "s2", {}, common_t))):
            for path, data in d.items():
                f = self.root / "flagscale/backends" / name / (path + ".patch")
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(data)
        hw = self.root / "hardware"
        # Vendor A: one diff.patch against upstream that embeds the common changes.
        dev = common_m["minillm/flagscale_device.py"]
        assert dev is not None
        self.a_changes = {"minillm/flagscale_device.py": dev.replace(b'"cuda"', b'"mlu"'), "README.md": b"# minillm on MLU\n"}
        full = dict(common_m)
        full.update(self.a_changes)
        d = _diffs(up_m, "v1.0", tmp / "s3", {}, full)
        a = hw / "Cambricon_MLU" / "MiniLLM"
        a.mkdir(parents=True)
        (a / "diff.patch").write_bytes(b"".join(d[p] for p in sorted(d)))
        (a / "diff.yaml").write_text(_diff_yaml(m_commit, "MiniLLM".lower(), "Cambricon_MLU", ["inference"]))
        # Vendor B: per-file patches; model_runner.py's embeds the common hunk plus its own one.
        runner = common_m["minillm/model_runner.py"]
        assert runner is not None
        runner_b = runner.replace(b"        hidden = self.norm(batch)\n", b"        hidden = self.norm(batch)  # metax\n")
        ops_h = b"#pragma once\n\n#include <torch/extension.h>\n#include <metax.h>\n\nvoid launch_rms_norm(torch::Tensor out, torch::Tensor in, torch::Tensor w, double eps);\n"
        d = _diffs(up_m, "v1.0", tmp / "s4", {}, {"minillm/model_runner.py": runner_b, "csrc/ops.h": ops_h})
        b = hw / "Metax_C550" / "minillm"
        b.mkdir(parents=True)
        (b / "model_runner.py.patch").write_bytes(d["minillm/model_runner.py"])
        (b / "ops.h.patch").write_bytes(d["csrc/ops.h"])
        (b / "diff.yaml").write_text(_diff_yaml(m_commit, "minillm", "Metax_C550", ["train", "inference"]))
        # Vendor C: encrypted diff.patch on upstream + common (tinyserve).
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key = tmp / "kunlun.pem"
        self.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        self.pub = tmp / "kunlun.pub.pem"
        self.pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        sched = b"def schedule(reqs):\n    return sorted(reqs, reverse=True)\n"
        d = _diffs(up_t, "v0.1", tmp / "s5", common_t, {"tinyserve/sched.py": sched})
        self.c_plain = d["tinyserve/sched.py"]
        c = hw / "Kunlun_XPU" / "TinyServe"
        c.mkdir(parents=True)
        (c / "diff.patch.encrypted").write_bytes(crypto.encrypt(self.c_plain, key.public_key()))
        (c / "diff.yaml").write_text(_diff_yaml(t_commit, "tinyserve", "Kunlun_XPU", ["inference"]))
        (hw / "patch_history.yaml").write_text(HIST)


def by_hand(upstream: Path, ref: str, dest: Path, patches: list[bytes]) -> dict[str, bytes]:
    """The tree after 'git apply' of patches, in order, on a clone of upstream at ref."""
    git(upstream.parent, "clone", "-q", str(upstream), str(dest))
    git(dest, "checkout", "-q", ref)
    for p in patches:
        git(dest, "apply", "--index", "-", input=p)
    return tree_files(dest)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Workspace, Gen]:
    ws = make_workspace(tmp_path, common=False)
    gen = Gen(tmp_path, ws)
    return ws, gen


def _common_files(gen: Gen, backend_dir: str) -> list[bytes]:
    base = gen.root / "flagscale/backends" / backend_dir
    return [p.read_bytes() for p in sorted(base.rglob("*.patch"), key=lambda p: p.relative_to(base).as_posix())]


def test_import_then_apply_equals_original_patches_by_hand(setup: tuple[Workspace, Gen], tmp_path: Path) -> None:
    """Common and every vendor stack after import equal the original patches applied with git apply."""
    ws, gen = setup
    r = import_flagscale.run(ws, gen.root, key=gen.key)
    assert {c.backend for c in r.common} == {"minillm", "tinyserve"}
    up_m, up_t = tmp_path / "up_minillm", tmp_path / "up_tiny"
    common_m = _common_files(gen, "MiniLLM")
    common_t = _common_files(gen, "TinyServe")
    apply.run(ws, "minillm", to=tmp_path / "o1")
    assert tree_files(tmp_path / "o1") == by_hand(up_m, "v1.0", tmp_path / "h1", common_m)
    apply.run(ws, "tinyserve", to=tmp_path / "o2")
    assert tree_files(tmp_path / "o2") == by_hand(up_t, "v0.1", tmp_path / "h2", common_t)
    apply.run(ws, "minillm", vendor="cambricon_mlu", task="inference", to=tmp_path / "o3")
    a = (gen.root / "hardware/Cambricon_MLU/MiniLLM/diff.patch").read_bytes()
    assert tree_files(tmp_path / "o3") == by_hand(up_m, "v1.0", tmp_path / "h3", [a])
    apply.run(ws, "minillm", vendor="metax_c550", task="train", to=tmp_path / "o4")
    b = [(gen.root / "hardware/Metax_C550/minillm" / n).read_bytes() for n in ("model_runner.py.patch", "ops.h.patch")]
    # Metax's per-file patch embeds one common hunk; by hand: the common layer, then Metax's own files
    # applied on upstream (git apply of the full per-file patch on upstream, other common files kept).
    expected = by_hand(up_m, "v1.0", tmp_path / "h4", b)
    common_tree = by_hand(up_m, "v1.0", tmp_path / "h4c", common_m)
    for path, data in common_tree.items():
        if path not in ("minillm/model_runner.py", "csrc/ops.h"):
            expected[path] = data
    assert tree_files(tmp_path / "o4") == expected
    apply.run(ws, "tinyserve", vendor="kunlun_xpu", key=gen.key, to=tmp_path / "o5")
    assert tree_files(tmp_path / "o5") == by_hand(up_t, "v0.1", tmp_path / "h5", common_t + [gen.c_plain])


def test_vendor_layers_hold_no_common_hunk_and_report_removals(setup: tuple[Workspace, Gen]) -> None:
    """Hunks identical to the common layer's are removed from vendor layers; the report counts them."""
    ws, gen = setup
    r = import_flagscale.run(ws, gen.root, key=gen.key)
    rep = {(v.vendor, v.backend): v for v in r.vendors}
    assert rep[("cambricon_mlu", "minillm")].embedded_common and rep[("cambricon_mlu", "minillm")].hunks_removed == 4
    assert rep[("metax_c550", "minillm")].hunks_removed == 1 and rep[("metax_c550", "minillm")].patches == 2
    assert rep[("kunlun_xpu", "tinyserve")].hunks_removed == 0
    for backend in ("minillm", "tinyserve"):
        common = set()
        for e in ws.read_layer_series(LayerRef(backend)):
            common |= hunk_keys(parse_patch(ws.read_patch(LayerRef(backend), e.name)).files)
        for layer in ws.vendor_layers(backend):
            for e in ws.read_layer_series(layer):
                raw = ws.read_patch(layer, e.name)
                if crypto.is_encrypted_name(e.name):
                    raw = crypto.decrypt(raw, crypto.load_private_key(gen.key))
                assert not (hunk_keys(parse_patch(raw).files) & common), (layer, e.name)
    meta = ws.layer_meta(LayerRef("minillm", "metax_c550"))
    assert list(meta["tasks"]) == ["train", "inference"] and ws.vendor_info("metax_c550")["device_type"] == "Metax_C550"


def test_encrypted_layer_stays_encrypted_in_workspace(setup: tuple[Workspace, Gen]) -> None:
    """An encrypted vendor patch needs --key under --strict, and its layer is stored encrypted again
    (no plaintext)."""
    ws, gen = setup
    with pytest.raises(UsageError, match="--key"):
        import_flagscale.run(ws, gen.root, strict=True)
    import_flagscale.run(ws, gen.root, key=gen.key)
    layer = LayerRef("tinyserve", "kunlun_xpu")
    names = [e.name for e in ws.read_layer_series(layer)]
    assert names == ["0001-tinyserve-sched.py.patch.encrypted"]  # the diff.patch, per file
    for f in ws.layer_dir(layer).iterdir():
        assert b"reverse=True" not in f.read_bytes()
    with pytest.raises(UsageError, match="encrypted"):
        apply.run(ws, "tinyserve", vendor="kunlun_xpu", to=ws.root.parent / "nokey")


def test_history_is_imported_with_normalised_names(setup: tuple[Workspace, Gen]) -> None:
    """patch_history.yaml becomes the history seed: vendor and backend names normalised, both tasks kept."""
    ws, gen = setup
    import_flagscale.run(ws, gen.root, key=gen.key)
    hist = ws.read_yaml("vendors/history.yaml", "history")
    assert list(hist) == ["cambricon_mlu"]
    assert [list(e["backends"]) for e in hist["cambricon_mlu"]["train"]] == [["minillm", "tinyserve"]]
    assert list(hist["cambricon_mlu"]["inference"][0]["commits"]) == ["1" * 40]


def _strip_commit(data: bytes) -> bytes:
    return b"\n".join(line for line in data.split(b"\n") if not line.startswith(b"commit: "))


def test_export_reimport_round_trip_changes_no_byte(setup: tuple[Workspace, Gen], tmp_path: Path) -> None:
    """import → export → import into a fresh workspace → export: diff.patch, diff.yaml (but its workspace
    commit) and the common layer are byte-identical."""
    ws, gen = setup
    import_flagscale.run(ws, gen.root, key=gen.key)
    commit_all(ws.root, "import")

    def export_all(w: Workspace, out: Path) -> None:
        for v in ("cambricon_mlu", "metax_c550"):
            export.run(w, vendor=v, out=out)
        export.run(w, vendor="kunlun_xpu", out=out, encrypt_to=gen.pub, key=gen.key)

    repo2 = tmp_path / "FlagScale2"
    export_all(ws, repo2 / "hardware")
    shutil.copytree(gen.root / "flagscale", repo2 / "flagscale")
    ws2 = make_workspace(tmp_path / "second", common=False)
    import_flagscale.run(ws2, repo2, key=gen.key)
    commit_all(ws2.root, "import")
    repo3 = tmp_path / "FlagScale3"
    export_all(ws2, repo3 / "hardware")
    one, two = tree_files(repo2 / "hardware"), tree_files(repo3 / "hardware")
    assert sorted(one) == sorted(two)
    for name in one:
        if name.endswith("diff.yaml"):
            assert _strip_commit(one[name]) == _strip_commit(two[name])
        elif name.endswith(".encrypted"):
            k = crypto.load_private_key(gen.key)
            assert crypto.decrypt(one[name], k) == crypto.decrypt(two[name], k)
        elif name != "patch_history.yaml":
            assert one[name] == two[name], name
    assert tree_files(ws.root / "series") == tree_files(ws2.root / "series")
    assert parse_diff(one["cambricon_mlu/minillm/diff.patch"])  # not empty


def test_vendor_hunk_next_to_a_common_hunk_is_split_off(setup: tuple[Workspace, Gen], tmp_path: Path) -> None:
    """A vendor's CUDA patch against upstream that changes the line next to a common change: git
    merges the two into one hunk (3 lines of context apart), so no hunk equals the common one.
    The patch applies on upstream, not on upstream+common: it embeds the common layer all the
    same, and the vendor layer keeps only the vendor's own line."""
    ws, gen = setup
    common_m = _final(common_patches())
    cu = common_m["csrc/kernels/rmsnorm.cu"]
    assert cu is not None and b"  dim3 grid(rows);\n" in cu
    mine = cu.replace(b"  dim3 grid(rows);\n", b"  dim3 grid(rows);  // Iluvatar: one block per row\n")
    d = _diffs(tmp_path / "up_minillm", "v1.0", tmp_path / "s6", {}, {"csrc/kernels/rmsnorm.cu": mine})
    assert d["csrc/kernels/rmsnorm.cu"].count(b"\n@@ ") == 1  # one hunk holding both changes
    vdir = gen.root / "hardware" / "Iluvatar_BI150" / "minillm"
    vdir.mkdir(parents=True)
    (vdir / "rmsnorm.cu.patch").write_bytes(d["csrc/kernels/rmsnorm.cu"])
    commit = ws.backends()["minillm"].commit
    (vdir / "diff.yaml").write_text(_diff_yaml(commit, "minillm", "Iluvatar_BI150", ["inference"]))
    r = import_flagscale.run(ws, gen.root, key=gen.key)
    rep = {(v.vendor, v.backend): v for v in r.vendors}
    assert ("iluvatar_bi150", "minillm") in rep, [(d.status, d.reason) for d in r.dirs if "Iluvatar" in d.source]
    assert rep[("iluvatar_bi150", "minillm")].embedded_common
    layer = LayerRef("minillm", "iluvatar_bi150")
    [entry] = ws.read_layer_series(layer)
    own = parse_patch(ws.read_patch(layer, entry.name)).files
    changed = [line for fd in own for h in fd.hunks for kind, line in h.lines if kind != " "]
    assert changed == [b"  dim3 grid(rows);\n", b"  dim3 grid(rows);  // Iluvatar: one block per row\n"], changed
    apply.run(ws, "minillm", vendor="iluvatar_bi150", task="inference", to=tmp_path / "o6")
    expected = by_hand(tmp_path / "up_minillm", "v1.0", tmp_path / "h6", _common_files(gen, "MiniLLM"))
    expected["csrc/kernels/rmsnorm.cu"] = mine
    assert tree_files(tmp_path / "o6") == expected
