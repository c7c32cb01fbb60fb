"""import flagscale: a ``diff.patch`` vendor layer becomes one patch per file; export writes it back.

Why: imported as one patch, one conflicting hunk made the whole layer pending (Hygon_BW1000's real
layer is ~7,000 changed lines in one patch).  Per file (FlagScale's own per-file convention, in
path order) only the files that conflict are pending.  layer.yaml's ``flagscale`` section keeps
the origin (``layout: diff``, ``origin`` = each patch → ``diff.patch``) so ``export --format
flagscale`` writes one ``diff.patch`` again, and a per-file layer's export keeps FlagScale's names.
Generated upstream and FlagScale histories: tests/fsbase_fixture.py.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from fspatch.core.yamlio import parse_yaml
from scripts.example import git, git_bytes, write_tree
from tests import fsbase_fixture as fx

BLOB = bytes(range(256)) * 4  # a binary file (a compiled kernel table)
VENDOR_CU = b'#include "ops.h"\n__global__ void musa_k(float* x) { x[0] = 1; }\n'


def _flagscale_diff(f: fx.FS, base: str, files: dict[str, bytes | None], chmod: tuple[str, ...] = ()) -> bytes:
    """FlagScale's recipe for a vendor diff.patch: pristine ``base`` → the vendor's tree, one
    ``git diff --cached --full-index --binary`` (renames found, as ``git diff`` does by default)."""
    scratch = f.fs.parent / "recipe"
    git(f.up.parent, "clone", "-q", str(f.up), str(scratch))
    git(scratch, "checkout", "-q", base)
    write_tree(scratch, files)
    for p in chmod:
        os.chmod(scratch / p, 0o755)
    git(scratch, "add", "-A")
    out = git_bytes(scratch, "diff", "--cached", "--full-index", "--binary", "-M")
    subprocess.run(["rm", "-rf", str(scratch)], check=True)
    return out


def _add_vendor(f: fx.FS, device: str, files: dict[str, bytes], msg: str) -> None:
    folder = f.fs / "hardware" / device / "Megatron-LM"
    for rel, data in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
    (folder / "diff.yaml").write_text(fx.diff_yaml(f.u[0], f.f1, device))
    git(f.fs, "add", "-A")
    git(f.fs, "commit", "-qm", msg)


def _unpatch(f: fx.FS, commit: str, patches: list[Path], dest: Path) -> dict[str, tuple[bytes, bool]]:
    """FlagScale's unpatch: pristine ``commit`` + ``git apply`` of each patch; files with their x bit."""
    git(f.up.parent, "clone", "-q", str(f.up), str(dest))
    git(dest, "checkout", "-q", commit)
    for p in patches:
        subprocess.run(["git", "apply", "--whitespace", "warn", str(p)], cwd=dest, check=True, capture_output=True)
    return {rel: (data, bool(os.stat(dest / rel).st_mode & stat.S_IXUSR)) for rel, data in fx.tree_files(dest).items()}


def _commit_ws(f: fx.FS) -> None:
    (f.ws / ".gitignore").write_text("third_party/\n")
    if not (f.ws / ".git").is_dir():
        git(f.ws, "init", "-q")
    git(f.ws, "add", "-A")
    git(f.ws, "commit", "-qm", "workspace")


def test_one_conflicting_file_leaves_only_its_patch_pending(tmp_path: Path) -> None:
    """A diff.patch made on U0 touching five files, one of which U3 also changes: four clean, one pending."""
    f = fx.make(tmp_path)
    vendor = {
        fx.M: fx.model_py(**fx.C1, f12="    return x + 12  # musa\n"),  # with the common layer of its time
        fx.T: fx._train(s20="step_20 = 20  # musa\n"),  # U3 changes this very line
        fx.K: fx._kernel(k7="__global__ void k7(float* x) { x[7] = 7 * MUSA; }\n"),
        fx.OPS: fx._ops(o4="int op4() { return 4; } // musa\n"),
        "csrc/musa_ops.cu": VENDOR_CU,
    }
    diff = _flagscale_diff(f, f.u[0], dict(vendor))
    _add_vendor(f, "MUSA_S5000", {"diff.patch": diff}, "F3: MUSA's diff.patch")
    code, out = f.cli("import", "flagscale", str(f.fs))
    assert code == 1, out
    assert f"found at {f.f1[:9]} (upstream {f.u[0][:12]}), brought to {f.u[3][:12]}: 4 clean, 1 conflicts" in out
    assert f"conflict: 0005-megatron-training-train.py.patch: {fx.T} line 21" in out, out
    layer = f.ws / "vendors/musa_s5000/megatron"
    names = (layer / "series").read_text().split()
    assert names == [
        "0001-csrc-kernel.cu.patch",
        "0002-csrc-musa_ops.cu.patch",
        "0003-csrc-ops.cpp.patch",
        "0004-megatron-core-model.py.patch",
        "0005-megatron-training-train.py.patch",
    ]
    assert b"# flagscale" not in (layer / "0004-megatron-core-model.py.patch").read_bytes()  # common subtracted
    pending = parse_yaml((f.ws / "series/megatron/pending.yaml").read_bytes(), "pending.yaml")
    [musa] = [e for e in pending["layers"] if e["label"] == "vendor/musa_s5000"]
    status = {e["name"]: e["status"] for e in musa["series"]}
    assert [n for n, s in status.items() if s == "conflict"] == ["0005-megatron-training-train.py.patch"]
    meta = parse_yaml((layer / "layer.yaml").read_bytes(), "layer.yaml")["flagscale"]
    assert meta["layout"] == "diff" and meta["files"] == ["diff.patch"]
    assert dict(meta["origin"]) == dict.fromkeys(names, "diff.patch")


def test_diff_layer_round_trips_as_one_diff_patch_with_renames_binary_and_modes(tmp_path: Path) -> None:
    """At the vendor's own base: per-file patches in the workspace (renames, binary, mode sections
    whole), one diff.patch in the export, the same tree as FlagScale's original under git apply."""
    f = fx.make(tmp_path, ref="v0")
    git(f.fs, "checkout", "-q", f.f1, "--", "flagscale")
    git(f.fs, "commit", "-qm", "F3: the common layer of F1 again")
    up0 = fx.up_files(0)
    vendor: dict[str, bytes | None] = {
        fx.M: fx.model_py(**fx.C1, f12="    return x + 12  # musa\n"),
        fx.OPS: None,  # renamed, with a small change
        "csrc/ops_musa.cpp": up0[fx.OPS].replace(b"return 4;", b"return 4 * MUSA;"),
        "csrc/kernels.bin": BLOB,
        fx.K: fx._kernel(k7="__global__ void k7(float* x) { x[7] = 7 * MUSA; }\n"),
    }
    diff = _flagscale_diff(f, f.u[0], vendor, chmod=(fx.T,))
    assert b"rename from csrc/ops.cpp" in diff and b"GIT binary patch" in diff and b"new mode 100755" in diff
    _add_vendor(f, "MUSA_S5000", {"diff.patch": diff}, "F4: MUSA's diff.patch")
    code, out = f.cli("import", "flagscale", str(f.fs))
    assert code == 0, out
    layer = f.ws / "vendors/musa_s5000/megatron"
    names = (layer / "series").read_text().split()
    assert names == [
        "0001-csrc-kernel.cu.patch",
        "0002-csrc-kernels.bin.patch",
        "0003-csrc-ops_musa.cpp.patch",  # the rename, named by its new path (as FlagScale's per-file names)
        "0004-megatron-core-model.py.patch",
        "0005-megatron-training-train.py.patch",
    ]
    rename = (layer / "0003-csrc-ops_musa.cpp.patch").read_bytes()
    assert b"rename from csrc/ops.cpp\nrename to csrc/ops_musa.cpp" in rename and b"4 * MUSA" in rename
    assert b"GIT binary patch" in (layer / "0002-csrc-kernels.bin.patch").read_bytes()
    assert b"new mode 100755" in (layer / "0005-megatron-training-train.py.patch").read_bytes()
    _commit_ws(f)
    dest = tmp_path / "export"
    args = ("export", "--format", "flagscale", "--out", str(dest), "--vendor", "musa_s5000")
    code, text = f.cli(*args)
    assert code == 0 and "(diff," in text, text
    folder = dest / "hardware/MUSA_S5000/Megatron-LM"
    assert sorted(p.name for p in folder.rglob("*.patch")) == ["diff.patch"]  # default layout = origin
    want = _unpatch(f, f.u[0], [f.fs / "hardware/MUSA_S5000/Megatron-LM/diff.patch"], tmp_path / "orig")
    assert want["csrc/kernels.bin"] == (BLOB, False) and want[fx.T][1] and "csrc/ops.cpp" not in want
    assert _unpatch(f, f.u[0], [folder / "diff.patch"], tmp_path / "mine") == want
    before = fx.tree_files(dest)
    exe = Path(sys.executable).parent / "fspatch"  # again, through the installed entry point
    run = subprocess.run([str(exe), "-C", str(f.ws), *args], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and "(unchanged)" in run.stdout, run.stdout + run.stderr
    assert fx.tree_files(dest) == before  # byte-stable
    per = tmp_path / "per-file"
    code, text = f.cli(*args[:4], str(per), *args[5:], "--layout", "per-file")
    assert code == 0, text
    pf = per / "hardware/MUSA_S5000/Megatron-LM"
    assert _unpatch(f, f.u[0], sorted(pf.rglob("*.patch")), tmp_path / "mine-per-file") == want


def test_per_file_export_keeps_the_names_flagscale_gave(tmp_path: Path) -> None:
    """A per-file patch named by the old path of the file it renames comes back under that name."""
    f = fx.make(tmp_path, ref="v0")
    git(f.fs, "checkout", "-q", f.f1, "--", "flagscale")
    git(f.fs, "commit", "-qm", "F3: the common layer of F1 again")
    up0 = fx.up_files(0)
    diff = _flagscale_diff(f, f.u[0], {fx.OPS: None, "csrc/ops_musa.cpp": up0[fx.OPS] + b"// musa\n"})
    kern = _flagscale_diff(f, f.u[0], {fx.K: fx._kernel(k1="__global__ void k1(float* x) { x[1] = -1; }\n")})
    _add_vendor(f, "MUSA_S5000", {fx.OPS + ".patch": diff, fx.K + ".patch": kern}, "F4: MUSA per file")
    code, out = f.cli("import", "flagscale", str(f.fs))
    assert code == 0, out
    layer = f.ws / "vendors/musa_s5000/megatron"
    meta = parse_yaml((layer / "layer.yaml").read_bytes(), "layer.yaml")["flagscale"]
    assert dict(meta["origin"]) == {
        "0001-csrc-kernel.cu.patch": fx.K + ".patch",
        "0002-csrc-ops.cpp.patch": fx.OPS + ".patch",
    }
    _commit_ws(f)
    dest = tmp_path / "export"
    code, text = f.cli("export", "--format", "flagscale", "--out", str(dest), "--vendor", "musa_s5000")
    assert code == 0 and "(per-file," in text, text
    folder = dest / "hardware/MUSA_S5000/Megatron-LM"
    got = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.patch"))
    # FlagScale's two names, plus the common layer's file (model.py: the export is relative to pristine U0)
    assert got == sorted([fx.K + ".patch", fx.OPS + ".patch", fx.M + ".patch"])
    orig = f.fs / "hardware/MUSA_S5000/Megatron-LM"
    common = f.fs / "flagscale/backends/Megatron-LM" / (fx.M + ".patch")
    want = _unpatch(f, f.u[0], [common, *sorted(orig.rglob("*.patch"))], tmp_path / "w")
    assert _unpatch(f, f.u[0], sorted(folder.rglob("*.patch")), tmp_path / "mine") == want
