"""A FlagScale-shaped workspace for the compatibility tests: per-file patches, a vendor layer.

Upstream ``Megatron-LM`` (Python, C++ and CUDA files, two commits) is pinned as backend
``megatron``; its common layer holds one patch per file named as FlagScale and
``fspatch import flagscale`` name them (``0002-megatron-core-timers.py.patch``); vendor
``acme`` (device type ``Acme_NPU``, task ``train``) has a per-file layer on top.  Every patch is
made with ``git diff`` in a scratch clone.
"""

from __future__ import annotations

from pathlib import Path

from fspatch.commands import backend as backend_cmd
from fspatch.commands import vendor as vendor_cmd
from fspatch.core.workspace import Workspace, init_workspace
from scripts.example import git, make_series, write_tree

TIMERS = b"".join(f"def timer_{i}():\n    return {i}\n\n".encode() for i in range(12))
UPSTREAM: dict[str, bytes | None] = {
    "megatron/core/timers.py": TIMERS,
    "megatron/training/arguments.py": b"def parse():\n    args = {}\n    args['lr'] = 0.1\n    return args\n",
    "csrc/fused.cpp": b'#include <vector>\n\nint fused(int x) {\n    return x + 1;\n}\n',
    "csrc/kernel.cu": b"__global__ void k(float* x) {\n    x[threadIdx.x] *= 2.0f;\n}\n",
    "tools/preprocess_data.py": b"import sys\n\n\ndef main():\n    print(sys.argv)\n",
    "README.md": b"Megatron-LM\n",
}


def _edit(path: str, old: bytes, new: bytes, base: dict[str, bytes | None]) -> dict[str, bytes | None]:
    data = base[path]
    assert data is not None and old in data, (path, old)
    return {path: data.replace(old, new, 1)}


def common_patches() -> list[tuple[str, str, str, dict[str, bytes | None]]]:
    u = UPSTREAM
    return [
        ("0001-csrc-fused.cpp.patch", "csrc/fused.cpp", "", _edit("csrc/fused.cpp", b"x + 1", b"x + 2", u)),
        (
            "0002-megatron-core-timers.py.patch",
            "megatron/core/timers.py",
            "",
            _edit("megatron/core/timers.py", b"    return 3\n", b"    return 3 * 10  # flagscale\n", u),
        ),
        (
            "0003-tools-preprocess_data.py.patch",
            "tools/preprocess_data.py",
            "",
            _edit("tools/preprocess_data.py", b"print(sys.argv)", b"print(sys.argv[1:])", u),
        ),
    ]


def vendor_patches() -> list[tuple[str, str, str, dict[str, bytes | None]]]:
    """Made on upstream + common: the vendor's own per-file patches."""
    base = dict(UPSTREAM)
    for _, _, _, ch in common_patches():
        base.update(ch)
    return [
        (
            "0001-megatron-core-timers.py.patch",
            "megatron/core/timers.py",
            "",
            _edit("megatron/core/timers.py", b"    return 9\n", b"    return 9  # npu\n", base),
        ),
        ("0002-csrc-kernel.cu.patch", "csrc/kernel.cu", "", _edit("csrc/kernel.cu", b"2.0f", b"3.0f", base)),
    ]


def make_upstream(path: Path) -> str:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    write_tree(path, UPSTREAM)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "Megatron-LM 0.1", date=1_700_000_000)
    git(path, "tag", "v0.1")
    return git(path, "rev-parse", "v0.1^{commit}").strip()


VLLM: dict[str, bytes | None] = {
    "vllm/worker.py": b"class Worker:\n    device = 'cuda'\n",
    "csrc/attention.cu": b"__global__ void attn(float* q) {\n    q[0] = 0.0f;\n}\n",
}


def _make_vllm(tmp: Path, root: Path, vendor: bool) -> None:
    up = tmp / "vllm"
    up.mkdir()
    git(up, "init", "-q", "-b", "main")
    write_tree(up, VLLM)
    git(up, "add", "-A")
    git(up, "commit", "-q", "-m", "vllm 0.1", date=1_700_000_000)
    git(up, "tag", "v0.1")
    backend_cmd.run_add(Workspace.load(root), "vllm", url=str(up), ref="v0.1")
    common = [("0001-vllm-worker.py.patch", "vllm/worker.py", "", _edit("vllm/worker.py", b"'cuda'", b"'cuda:0'", VLLM))]
    make_series(up, "v0.1", root / "series" / "vllm", common)
    if vendor:
        vendor_cmd.run_layer(Workspace.load(root), "acme", "vllm", tasks=("inference",), models=("qwen3",))
        base = dict(VLLM)
        base.update(common[0][3])
        scratch = tmp / "vllm-base"
        git(tmp, "clone", "-q", str(up), str(scratch))
        write_tree(scratch, common[0][3])
        git(scratch, "commit", "-qam", "common", date=1_700_000_100)
        own = [("0001-csrc-attention.cu.patch", "csrc/attention.cu", "", _edit("csrc/attention.cu", b"0.0f", b"1.0f", base))]
        make_series(scratch, "HEAD", root / "vendors" / "acme" / "vllm", own)


def make_flagscale_workspace(tmp: Path, *, vendor: bool = True, vllm: bool = False) -> Workspace:
    """The workspace (a git repository itself, checkouts ignored) with its layers written and committed;
    ``vllm``: a second backend (common and acme layers, acme's for inference)."""
    up = tmp / "Megatron-LM"
    make_upstream(up)
    root = tmp / "FlagScale"
    root.mkdir()
    init_workspace(root)
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text("third_party/\nbuild/\n")
    ws = Workspace.load(root)
    backend_cmd.run_add(ws, "Megatron-LM", url=str(up), ref="v0.1")
    make_series(up, "v0.1", root / "series" / "megatron", common_patches())
    if vendor:
        ws = Workspace.load(root)
        vendor_cmd.run_add(ws, "acme", device_type="Acme_NPU", contact="npu@acme.example")
        vendor_cmd.run_layer(ws, "acme", "megatron", tasks=("train",), models=("llama3",))
        scratch = tmp / "vendor-base"
        git(tmp, "clone", "-q", str(up), str(scratch))
        for _, _, _, ch in common_patches():
            write_tree(scratch, ch)
        git(scratch, "commit", "-qam", "common", date=1_700_000_100)
        make_series(scratch, "HEAD", root / "vendors" / "acme" / "megatron", vendor_patches())
    if vllm:
        _make_vllm(tmp, root, vendor)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "FlagScale workspace", date=1_700_000_200)
    return Workspace.load(root)
