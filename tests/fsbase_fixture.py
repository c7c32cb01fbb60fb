"""A generated FlagScale repository whose vendor layers were made at an older base.

Upstream ("Megatron-LM": Python, C++ and CUDA files) has four commits: U0 (the vendors' base),
U1 and U2 (unrelated edits that shift context and add a file), U3 = ``v2`` (the workspace pin,
changing a line one vendor also changes).  FlagScale has two commits: F1 (common layer made on
U0, gitlink U0) and F2 (the common layer changed and remade on U3, gitlink U3, the vendor dirs).
Metax_C550 ships one ``diff.patch`` (clean when brought forward); Hygon_BW1000 ships per-file
patches, one of which conflicts with U3.  Both were made by FlagScale's rule: pristine
``backends_commit`` → upstream + common of F1 + vendor.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from fspatch.cli import main_group
from scripts.example import git, git_bytes, write_tree


def model_py(**over: str) -> bytes:
    out = ['"""The model."""\n', "\n"]
    for i in range(20):
        out.append(f"def f{i}(x):\n")
        out.append(over.get(f"f{i}", f"    return x + {i}\n"))
    return "".join(out).encode()


def _train(**over: str) -> bytes:
    return "".join(over.get(f"s{i}", f"step_{i} = {i}\n") for i in range(30)).encode()


def _ops(top: str = "", **over: str) -> bytes:
    return (top + "".join(over.get(f"o{i}", f"int op{i}() {{ return {i}; }}\n") for i in range(20))).encode()


def _kernel(**over: str) -> bytes:
    return "".join(
        over.get(f"k{i}", f"__global__ void k{i}(float* x) {{ x[{i}] = {i}; }}\n") for i in range(20)
    ).encode()


M = "megatron/core/model.py"
T = "megatron/training/train.py"
OPS = "csrc/ops.cpp"
K = "csrc/kernel.cu"
NEW = "megatron/core/new.py"

C1 = {"f2": "    return x * 2  # flagscale\n"}  # the common layer at F1
C2 = {"f2": "    return x * 2  # flagscale v2\n", "f10": "    return x - 10  # flagscale\n"}  # at F2
METAX = {"f15": "    return x + 15  # metax\n"}
HYGON_M = {"f17": "    return x + 17  # hygon\n"}
HYGON_T = {"s20": "step_20 = 20  # hygon\n"}
U1_M = {"f19": "    return x + 190\n"}
U1_TOP = "#include <cstdint>\n// ops\n\n"
U2_K = {"k15": "__global__ void k15(float* x) { x[15] = 150; }\n"}
U3_T = {"s20": "step_20 = 200\n"}


def up_files(stage: int) -> dict[str, bytes]:
    """Upstream's files after U<stage>."""
    m = dict(U1_M) if stage >= 1 else {}
    files = {
        M: model_py(**m),
        T: _train(**(U3_T if stage >= 3 else {})),
        OPS: _ops(U1_TOP if stage >= 1 else ""),
        K: _kernel(**(U2_K if stage >= 2 else {})),
    }
    if stage >= 2:
        files[NEW] = b"NEW = True\n"
    return files


@dataclass
class FS:
    up: Path
    fs: Path
    ws: Path
    u: list[str]  # U0..U3
    f1: str
    f2: str

    def cli(self, *args: str) -> tuple[int, str]:
        r = CliRunner().invoke(main_group, ["-C", str(self.ws), *args])
        return r.exit_code, r.output


def _diff(up: Path, base: str, files: dict[str, bytes], scratch: Path) -> dict[str, bytes]:
    """Per-file ``git diff --full-index`` from pristine ``base`` to ``files`` (FlagScale's own recipe)."""
    git(up.parent, "clone", "-q", str(up), str(scratch))
    git(scratch, "checkout", "-q", base)
    write_tree(scratch, dict(files))
    git(scratch, "add", "-A")
    out = {p: git_bytes(scratch, "diff", "--cached", "--full-index", "--", p) for p in sorted(files)}
    shutil.rmtree(scratch)
    return {p: d for p, d in out.items() if d}


def diff_yaml(bc: str, commit: str, device: str, key: str = "Megatron-LM") -> str:
    return (
        f"backends_commit:\n  {key}: {bc}\nbackends_version:\n  {key}: 0.12.0\ncommit: {commit}\n"
        f"contact: team@{device.lower()}.example\ndevice_type: {device}\nmodels:\n- llama3\ntask:\n- train\n"
    )


def make(tmp: Path, *, key: str = "Megatron-LM", ref: str = "v2") -> FS:
    up = tmp / "Megatron-LM"
    up.mkdir()
    git(up, "init", "-q")
    u: list[str] = []
    for stage, msg in enumerate(["Initial Megatron", "Tidy ops and f19", "Faster k15, add new.py", "Scale step 20"]):
        write_tree(up, up_files(stage))
        git(up, "add", "-A")
        git(up, "commit", "-qm", msg, date=1_700_000_000 + stage * 100)
        u.append(git(up, "rev-parse", "HEAD").strip())
        if stage == 0:
            git(up, "tag", "v0")
    git(up, "tag", "v2")
    # FlagScale: F1 (common on U0), F2 (common changed, remade on U3; the vendor dirs)
    fs = tmp / "FlagScale"
    fs.mkdir()
    git(fs, "init", "-q")

    def set_common(base: int, over: dict[str, str]) -> None:
        _set_common(up, u, fs, base, over, tmp / "sc")

    set_common(0, C1)
    (fs / "README.md").write_text("FlagScale\n")
    git(fs, "add", "-A")
    git(fs, "update-index", "--add", "--cacheinfo", f"160000,{u[0]},third_party/Megatron-LM")
    git(fs, "commit", "-qm", "F1", date=1_700_000_500)
    f1 = git(fs, "rev-parse", "HEAD").strip()
    set_common(3, C2)
    hw = fs / "hardware"
    metax = hw / "Metax_C550/Megatron-LM"
    metax.mkdir(parents=True)
    full = up_files(0)
    full[M] = model_py(**C1, **METAX)
    full[K] = _kernel(k3="__global__ void k3(float* x) { x[3] = 3 * MACA; }\n")
    full[OPS] = _ops(o10="int op10() { return 10; } // metax\n")
    d = _diff(up, u[0], full, tmp / "sc")
    (metax / "diff.patch").write_bytes(b"".join(d[p] for p in sorted(d)))
    (metax / "diff.yaml").write_text(diff_yaml(u[0], f1, "Metax_C550", key))
    hygon = hw / "Hygon_BW1000/Megatron-LM"
    hygon.mkdir(parents=True)
    d = _diff(up, u[0], {M: model_py(**C1, **HYGON_M), T: _train(**HYGON_T)}, tmp / "sc")
    for path in (M, T):  # FlagScale's per-file layout: <upstream path>.patch
        (hygon / (path + ".patch")).parent.mkdir(parents=True, exist_ok=True)
        (hygon / (path + ".patch")).write_bytes(d[path])
    (hygon / "diff.yaml").write_text(diff_yaml(u[0], f1, "Hygon_BW1000", key))
    git(fs, "add", "-A")
    git(fs, "update-index", "--add", "--cacheinfo", f"160000,{u[3]},third_party/Megatron-LM")
    git(fs, "commit", "-qm", "F2", date=1_700_000_600)
    f2 = git(fs, "rev-parse", "HEAD").strip()
    # the workspace pins v2 (U3)
    ws = tmp / "ws"
    r = CliRunner().invoke(main_group, ["init", str(ws)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(
        main_group,
        ["-C", str(ws), "backend", "add", "megatron", "--url", str(up), "--ref", ref],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    return FS(up, fs, ws, u, f1, f2)


def _set_common(up: Path, u: list[str], fs: Path, base: int, over: dict[str, str], scratch: Path) -> None:
    """FlagScale's common layer: model.py's per-file patch from pristine U<base>."""
    common_dir = fs / "flagscale/backends/Megatron-LM"
    if common_dir.exists():
        shutil.rmtree(common_dir)
    d = _diff(up, u[base], {M: model_py(**{**(U1_M if base >= 1 else {}), **over})}, scratch)
    for path, data in d.items():
        target = common_dir / (path + ".patch")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def set_common(f: FS, base: int, over: dict[str, str]) -> None:
    _set_common(f.up, f.u, f.fs, base, over, f.fs.parent / "sc")


def diff_from(f: FS, base: int, files: dict[str, bytes]) -> dict[str, bytes]:
    """Per-file diffs from pristine U<base> (FlagScale's recipe)."""
    return _diff(f.up, f.u[base], files, f.fs.parent / "sc")


def expected_pin(vendor: dict[str, bytes]) -> dict[str, bytes]:
    """What pin + current common + a vendor's own changes must be, written out by hand."""
    files = up_files(3)
    files.update(vendor)
    return files


def metax_at_pin() -> dict[str, bytes]:
    return expected_pin(
        {
            M: model_py(**U1_M, **C2, **METAX),
            K: _kernel(**U2_K, k3="__global__ void k3(float* x) { x[3] = 3 * MACA; }\n"),
            OPS: _ops(U1_TOP, o10="int op10() { return 10; } // metax\n"),
        }
    )


def hygon_at_pin(resolved_s20: str) -> dict[str, bytes]:
    return expected_pin({M: model_py(**U1_M, **C2, **HYGON_M), T: _train(s20=resolved_s20)})


def tree_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
