"""The embedded example: a small upstream with real history and a workspace patching it.

Used by ``make demo`` and by the tests (``from scripts.example import …``, the repository root on
``sys.path``); fspatch itself never imports it, so it lives outside the package.  The upstream ("minillm") has Python,
C++ and CUDA sources, a binary asset and two tagged releases; the workspace
pins ``v1.0`` and carries a common layer of three patches, every change fenced
in FLAGSCALE MODIFICATION markers.  Repositories are made with the git CLI
under a fixed identity and fixed dates, so every run gives the same commit ids.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

AUTHOR = ("Upstream Dev", "dev@upstream.example")
BASE_DATE = 1_700_000_000

RUNNER_V1 = '''\
"""Model runner: loads a model and runs batches."""

import os

from minillm.layers.norm import RMSNorm


class ModelRunner:
    def __init__(self, config):
        self.config = config
        self.device = config.get("device", "cuda")
        self.norm = RMSNorm(config["hidden"])

    def load_model(self):
        path = self.config["path"]
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        self.weights = open(path, "rb").read()
        return self.weights

    def execute(self, batch):
        hidden = self.norm(batch)
        return hidden
'''

NORM_V1 = '''\
"""Normalisation layers."""


class RMSNorm:
    def __init__(self, hidden, eps=1e-6):
        self.hidden = hidden
        self.eps = eps

    def __call__(self, x):
        scale = sum(v * v for v in x) / max(len(x), 1)
        return [v / (scale + self.eps) ** 0.5 for v in x]
'''

OPS_CPP_V1 = """\
#include "ops.h"

#include <torch/extension.h>

namespace minillm {

torch::Tensor rms_norm(torch::Tensor input, torch::Tensor weight, double eps) {
  auto out = torch::empty_like(input);
  launch_rms_norm(out, input, weight, eps);
  return out;
}

}  // namespace minillm

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("rms_norm", &minillm::rms_norm, "RMS norm");
}
"""

OPS_H_V1 = """\
#pragma once

#include <torch/extension.h>

void launch_rms_norm(torch::Tensor out, torch::Tensor in, torch::Tensor w, double eps);
"""

RMSNORM_CU_V1 = """\
#include <cuda_runtime.h>

#include "../ops.h"

template <typename T>
__global__ void rms_norm_kernel(T* out, const T* in, const T* w, float eps, int n) {
  int row = blockIdx.x;
  float acc = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    float v = in[row * n + i];
    acc += v * v;
  }
  float scale = rsqrtf(acc / n + eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    out[row * n + i] = in[row * n + i] * scale * w[i];
  }
}

void launch_rms_norm(torch::Tensor out, torch::Tensor in, torch::Tensor w, double eps) {
  int rows = in.size(0);
  int n = in.size(1);
  dim3 grid(rows);
  dim3 block(256);
  rms_norm_kernel<float><<<grid, block>>>(
      out.data_ptr<float>(), in.data_ptr<float>(), w.data_ptr<float>(), eps, n);
}
"""

CMAKE_V1 = """\
cmake_minimum_required(VERSION 3.18)
project(minillm LANGUAGES CXX CUDA)

add_library(minillm_ops SHARED csrc/ops.cpp csrc/kernels/rmsnorm.cu)
set_target_properties(minillm_ops PROPERTIES CUDA_ARCHITECTURES "80;90")
"""

README_V1 = "# minillm\n\nA tiny LLM serving engine (example upstream for fspatch).\n"

INIT_V1 = '__version__ = "1.0"\n'

LOGO = bytes(range(256)) * 8 + b"\x00PNG-ish\x00" * 16


def upstream_v1() -> dict[str, bytes]:
    return {
        "README.md": README_V1.encode(),
        "CMakeLists.txt": CMAKE_V1.encode(),
        "minillm/__init__.py": INIT_V1.encode(),
        "minillm/model_runner.py": RUNNER_V1.encode(),
        "minillm/layers/__init__.py": b"",
        "minillm/layers/norm.py": NORM_V1.encode(),
        "csrc/ops.cpp": OPS_CPP_V1.encode(),
        "csrc/ops.h": OPS_H_V1.encode(),
        "csrc/kernels/rmsnorm.cu": RMSNORM_CU_V1.encode(),
        "assets/logo.bin": LOGO,
    }


# The common layer: (file name, subject, description, {path: new content or None}).
def common_patches() -> list[tuple[str, str, str, dict[str, bytes | None]]]:
    runner = RUNNER_V1.replace(
        "from minillm.layers.norm import RMSNorm\n",
        "from minillm.layers.norm import RMSNorm\n"
        "\n"
        "# --- FLAGSCALE MODIFICATION BEG ---\n"
        'if os.environ.get("USE_FLAGGEMS", "0") == "1":\n'
        "    import flag_gems\n"
        "\n"
        "    flag_gems.enable()\n"
        "# --- FLAGSCALE MODIFICATION END ---\n",
    )
    cu = RMSNORM_CU_V1.replace(
        "  dim3 block(256);\n",
        "  // --- FLAGSCALE MODIFICATION BEG ---\n"
        "  dim3 block(n >= 1024 ? 1024 : 256);\n"
        "  // --- FLAGSCALE MODIFICATION END ---\n",
    )
    cpp = OPS_CPP_V1.replace(
        "  launch_rms_norm(out, input, weight, eps);\n",
        "  // --- FLAGSCALE MODIFICATION BEG ---\n"
        '  TORCH_CHECK(input.is_contiguous(), "rms_norm: input must be contiguous");\n'
        "  // --- FLAGSCALE MODIFICATION END ---\n"
        "  launch_rms_norm(out, input, weight, eps);\n",
    )
    device = (
        '"""FlagScale device selection for minillm."""\n'
        "\n"
        "import os\n"
        "\n"
        "\n"
        "def device_type() -> str:\n"
        '    return os.environ.get("FLAGSCALE_DEVICE", "cuda")\n'
    )
    norm = NORM_V1.replace(
        "        self.eps = eps\n",
        "        self.eps = eps\n"
        "        # --- FLAGSCALE MODIFICATION BEG ---\n"
        "        from minillm.flagscale_device import device_type\n"
        "\n"
        "        self.device = device_type()\n"
        "        # --- FLAGSCALE MODIFICATION END ---\n",
    )
    return [
        (
            "0001-enable-flag-gems.patch",
            "Enable FlagGems operators in the model runner",
            "FlagGems replaces torch operators with Triton kernels that run on many\n"
            "chips. It is switched on by USE_FLAGGEMS=1 so the default path is unchanged.",
            {"minillm/model_runner.py": runner.encode()},
        ),
        (
            "0002-rmsnorm-block-size.patch",
            "Use wider CUDA blocks for RMSNorm on large rows",
            "Rows of 1024 and more elements saturate a 256-thread block; use 1024\n"
            "threads there and check the input layout before launching.",
            {"csrc/kernels/rmsnorm.cu": cu.encode(), "csrc/ops.cpp": cpp.encode()},
        ),
        (
            "0003-device-selection.patch",
            "Select the device through FlagScale",
            "The norm layer asks FlagScale which device it runs on, so vendor\n"
            "layers can redirect it without touching every call site.",
            {"minillm/flagscale_device.py": device.encode(), "minillm/layers/norm.py": norm.encode()},
        ),
    ]


def upstream_history() -> list[tuple[str, dict[str, bytes | None], str | None]]:
    """(subject, changes, tag) for each upstream commit after the first."""
    v11_runner = RUNNER_V1.replace(
        '        self.device = config.get("device", "cuda")\n',
        '        self.device = config.get("device", "cuda")\n        self.max_batch = config.get("max_batch", 8)\n',
    )
    v11_cu = RMSNORM_CU_V1.replace("  dim3 block(256);\n", "  dim3 block(512);\n")
    return [
        ("Document the build", {"README.md": (README_V1 + "\nBuild with CMake.\n").encode()}, None),
        ("Add max_batch to the runner config", {"minillm/model_runner.py": v11_runner.encode()}, None),
        ("Tune the RMSNorm block size to 512", {"csrc/kernels/rmsnorm.cu": v11_cu.encode()}, None),
        ("Release 1.1", {"minillm/__init__.py": b'__version__ = "1.1"\n'}, "v1.1"),
    ]


def git(cwd: Path, *args: str, date: int | None = None, input: bytes | None = None) -> str:
    """Run git with a hermetic identity and a fixed date."""
    return git_bytes(cwd, *args, date=date, input=input).decode("utf-8", "replace")


def git_bytes(cwd: Path, *args: str, date: int | None = None, input: bytes | None = None) -> bytes:
    """Like ``git`` but returns stdout's raw bytes (diffs of non-UTF-8 files)."""
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME=AUTHOR[0],
        GIT_AUTHOR_EMAIL=AUTHOR[1],
        GIT_COMMITTER_NAME=AUTHOR[0],
        GIT_COMMITTER_EMAIL=AUTHOR[1],
        GIT_CONFIG_NOSYSTEM="1",
    )
    if date is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{date} +0000"
    out = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "core.autocrlf=false", *args],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {out.stderr.decode(errors='replace')}")
    return out.stdout


def write_tree(root: Path, files: Mapping[str, bytes | None]) -> None:
    for rel, data in files.items():
        path = root / rel
        if data is None:
            if path.exists():
                path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def make_upstream(path: Path, *, history: bool = True) -> dict[str, str]:
    """Create the upstream repository; returns tag → commit id."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    write_tree(path, upstream_v1())
    git(path, "add", "-A")
    date = BASE_DATE
    git(path, "commit", "-q", "-m", "Release 1.0", date=date)
    git(path, "tag", "v1.0")
    if history:
        for subject, changes, tag in upstream_history():
            date += 3600
            write_tree(path, changes)
            git(path, "add", "-A")
            git(path, "commit", "-q", "-m", subject, date=date)
            if tag:
                git(path, "tag", tag)
    return {t: git(path, "rev-parse", f"{t}^{{commit}}").strip() for t in git(path, "tag").split()}


def patch_text(subject: str, description: str, diff: str) -> str:
    return patch_bytes(subject, description, diff.encode()).decode()


def patch_bytes(subject: str, description: str, diff: bytes) -> bytes:
    """A patch file in the canonical header format around a git diff."""
    header = (
        "From: FlagScale Team <flagscale@example.org>\n"
        f"Subject: {subject}\n\n{description}\n\n"
        "Signed-off-by: FlagScale Team <flagscale@example.org>\n---\n"
    )
    return header.encode() + diff


def make_series(
    upstream: Path, ref: str, out_dir: Path, patches: Sequence[tuple[str, str, str, Mapping[str, bytes | None]]]
) -> None:
    """Write patch files made with ``git diff`` in a scratch clone, and the series file."""
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = out_dir / ".scratch"
    git(out_dir, "clone", "-q", str(upstream.resolve()), str(scratch))
    try:
        git(scratch, "checkout", "-q", ref)
        names = []
        for name, subject, description, changes in patches:
            write_tree(scratch, changes)
            git(scratch, "add", "-A")
            diff = git(scratch, "diff", "--cached", "--full-index", "--binary", "-M")
            git(scratch, "commit", "-q", "-m", subject, date=BASE_DATE)
            (out_dir / name).write_text(patch_text(subject, description, diff))
            names.append(name)
        (out_dir / "series").write_text("".join(n + "\n" for n in names))
    finally:
        subprocess.run(["rm", "-rf", str(scratch)], check=False)
