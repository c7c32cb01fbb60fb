"""export --format flagscale: what FlagScale's own unpatch applies, and the round trip through it.

FlagScale's unpatch resets the submodule to diff.yaml's backends_commit and ``git apply``-s every
``*.patch`` of ``hardware/<Device_Type>/<Backend>/``.  Here real ``git apply`` does the same on a
pristine clone of the generated upstream, for FlagScale's original patches and for the export.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fspatch.core.yamlio import parse_yaml
from scripts.example import git
from tests import fsbase_fixture as fx


def unpatch(up: Path, commit: str, folder: Path, dest: Path) -> dict[str, bytes]:
    """FlagScale's unpatch, by hand: pristine ``commit``, then ``git apply`` of every patch below ``folder``."""
    git(up.parent, "clone", "-q", str(up), str(dest))
    git(dest, "checkout", "-q", commit)
    patches = sorted(p for p in folder.rglob("*.patch") if p.is_file())
    assert patches, folder
    for p in patches:
        subprocess.run(["git", "apply", "--whitespace", "warn", str(p)], cwd=dest, check=True, capture_output=True)
    return fx.tree_files(dest)


def _commit_ws(f: fx.FS) -> str:
    (f.ws / ".gitignore").write_text("third_party/\n")
    if not (f.ws / ".git").is_dir():
        git(f.ws, "init", "-q")
    git(f.ws, "add", "-A")
    git(f.ws, "commit", "-qm", "workspace")
    return git(f.ws, "rev-parse", "HEAD").strip()


def _at_base(tmp: Path) -> fx.FS:
    """The workspace pinned at the vendors' own base (U0), FlagScale's common layer of that time."""
    f = fx.make(tmp, ref="v0")
    git(f.fs, "checkout", "-q", f.f1, "--", "flagscale")
    git(f.fs, "commit", "-qm", "F3: the common layer of F1 again")
    code, out = f.cli("import", "flagscale", str(f.fs))
    assert code == 0, out
    return f


def test_round_trip_at_the_vendors_base_gives_flagscales_own_trees(tmp_path: Path) -> None:
    f = _at_base(tmp_path)
    _commit_ws(f)
    out = tmp_path / "export"
    code, text = f.cli("export", "--format", "flagscale", "--out", str(out))
    assert code == 0, text
    for device, layout in (("Metax_C550", "diff"), ("Hygon_BW1000", "per-file")):
        orig = f.fs / "hardware" / device / "Megatron-LM"
        mine = out / "hardware" / device / "Megatron-LM"
        assert f"({layout}," in text
        got = unpatch(f.up, f.u[0], mine, tmp_path / f"mine-{device}")
        want = unpatch(f.up, f.u[0], orig, tmp_path / f"orig-{device}")
        assert got == want, device
    assert (out / "hardware/Metax_C550/Megatron-LM/diff.patch").is_file()
    assert (out / "hardware/Hygon_BW1000/Megatron-LM" / (fx.T + ".patch")).is_file()


def test_brought_forward_export_applies_on_the_pristine_pin(tmp_path: Path) -> None:
    f = fx.make(tmp_path)
    code, out = f.cli("import", "flagscale", str(f.fs))
    assert code == 1, out  # Hygon pending; Metax is exported
    head = _commit_ws(f)
    dest = tmp_path / "export"
    code, text = f.cli("export", "--format", "flagscale", "--out", str(dest))
    assert code == 0, text
    assert "hygon_bw1000/megatron: hardware/Hygon_BW1000/Megatron-LM: not written (1 patch(es) pending" in text
    assert not (dest / "hardware/Hygon_BW1000").exists()
    folder = dest / "hardware/Metax_C550/Megatron-LM"
    assert unpatch(f.up, f.u[3], folder, tmp_path / "t") == fx.metax_at_pin()
    meta = parse_yaml((folder / "diff.yaml").read_bytes(), "diff.yaml")
    assert dict(meta["backends_commit"]) == {"Megatron-LM": f.u[3]}
    assert dict(meta["backends_version"]) == {"Megatron-LM": "0.12.0"}
    assert meta["commit"] == head and meta["device_type"] == "Metax_C550" and list(meta["task"]) == ["train"]
    hist = (dest / "hardware/patch_history.yaml").read_text()
    assert hist == f"Metax_C550:\n  train:\n    Megatron-LM:\n    - {head}\n"


def test_export_is_byte_stable_and_removes_stale_patches(tmp_path: Path) -> None:
    f = _at_base(tmp_path)
    _commit_ws(f)
    out = tmp_path / "export"
    args = ("export", "--format", "flagscale", "--out", str(out))
    assert f.cli(*args)[0] == 0
    before = fx.tree_files(out)
    # the installed entry point, as a FlagScale maintainer runs it
    exe = Path(sys.executable).parent / "fspatch"
    run = subprocess.run([str(exe), "-C", str(f.ws), *args], capture_output=True, text=True, check=False)
    code, text = run.returncode, run.stdout + run.stderr
    assert code == 0 and "written" not in text and "history: " in text and "(unchanged)" in text, text
    assert fx.tree_files(out) == before
    stale = out / "hardware/Hygon_BW1000/Megatron-LM/old/gone.py.patch"
    stale.parent.mkdir(parents=True)
    stale.write_text("stale\n")
    code, text = f.cli(*args, "--vendor", "hygon_bw1000", "--layout", "diff")
    assert code == 0 and "3 stale removed" in text, text
    left = sorted(p.name for p in (out / "hardware/Hygon_BW1000/Megatron-LM").rglob("*.patch"))
    assert left == ["diff.patch"]


def test_per_file_export_of_a_copied_file_stands_alone(tmp_path: Path) -> None:
    """A new file copied from one the layers change: per file, it must not be a 'copy from' patch."""
    f = fx.make(tmp_path)
    assert f.cli("import", "flagscale", str(f.fs))[0] == 1
    origin = fx.up_files(3)[fx.M]  # upstream's model.py, kept beside the changed one
    lines = origin.decode().splitlines(keepends=True)
    body = "".join("+" + line for line in lines)
    patch = (
        "From: Metax <m@metax.example>\nSubject: keep the original model\n---\n"
        "diff --git a/megatron/core/model_origin.py b/megatron/core/model_origin.py\nnew file mode 100644\n"
        f"--- /dev/null\n+++ b/megatron/core/model_origin.py\n@@ -0,0 +1,{len(lines)} @@\n{body}"
    )
    layer = f.ws / "vendors/metax_c550/megatron"
    (layer / "0002-origin.patch").write_text(patch)
    with (layer / "series").open("a") as s:
        s.write("0002-origin.patch\n")
    _commit_ws(f)
    dest = tmp_path / "export"
    args = ("export", "--format", "flagscale", "--out", str(dest), "--vendor", "metax_c550", "--layout", "per-file")
    code, text = f.cli(*args)
    assert code == 0, text
    folder = dest / "hardware/Metax_C550/Megatron-LM"
    assert "copy from" not in (folder / "megatron/core/model_origin.py.patch").read_text()
    want = fx.metax_at_pin()
    want["megatron/core/model_origin.py"] = origin
    assert unpatch(f.up, f.u[3], folder, tmp_path / "t") == want


def test_opaque_layer_goes_back_as_it_came(tmp_path: Path) -> None:
    """An encrypted layer imported without a key is exported in FlagScale's form byte for byte, at its own base."""
    f = fx.make(tmp_path, ref="v0")
    kunlun = f.fs / "hardware/Kunlunxin_R310p/Megatron-LM"
    kunlun.mkdir(parents=True)
    sealed = bytes(range(256)) * 3  # opaque to fspatch: never decrypted without a key
    (kunlun / "diff.patch.encrypted").write_bytes(sealed)
    (kunlun / "diff.yaml").write_text(fx.diff_yaml(f.u[0], f.f1, "Kunlunxin_R310p"))
    git(f.fs, "add", "-A")
    git(f.fs, "commit", "-qm", "F3: an encrypted layer")
    code, out = f.cli("import", "flagscale", str(f.fs))
    assert code == 0 and "opaque" in out, out
    _commit_ws(f)
    dest = tmp_path / "export"
    code, text = f.cli("export", "--format", "flagscale", "--out", str(dest), "--vendor", "kunlunxin_r310p")
    assert code == 0 and "(opaque, 1 files" in text, text
    folder = dest / "hardware/Kunlunxin_R310p/Megatron-LM"
    assert (folder / "diff.patch.encrypted").read_bytes() == sealed
    meta = parse_yaml((folder / "diff.yaml").read_bytes(), "diff.yaml")
    assert dict(meta["backends_commit"]) == {"Megatron-LM": f.u[0]} and meta["commit"] == f.f1
