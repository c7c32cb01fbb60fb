"""A workspace whose next upstream bump conflicts, as a nightly bot meets it.

Upstream ``minillm`` holds Python, C++ and CUDA sources; the common layer has twelve patches,
one file each.  ``v2`` is a merge (``--no-ff``, GitLab style) of a branch whose commit
``ADLR/minillm!42 - Tune the kernel block size`` rewrites line 10 of ``csrc/kernel.cu``, the
line patch ``0003-kernel.patch`` changes too: one conflict with a recognisable culprit, the
merge that brought it and its MR reference; every other patch is clean.
"""

from __future__ import annotations

from pathlib import Path

from fspatch.core.workspace import Workspace
from scripts.example import BASE_DATE, git, write_tree
from tests.rebase_helpers import PatchDef, make_repo, make_ws

FILES = {
    "model/attn.py": "# attention\n" + "".join(f"x{i} = {i}\n" for i in range(1, 21)),
    "csrc/ops.cpp": "// ops\n" + "".join(f"int op{i}() {{ return {i}; }}\n" for i in range(1, 21)),
    "csrc/kernel.cu": "// kernel\n" + "".join(f"__device__ int k{i} = {i};\n" for i in range(1, 21)),
    **{f"model/m{i:02d}.py": f"# module {i}\n" + "".join(f"v{j} = {j}\n" for j in range(1, 21)) for i in range(1, 10)},
}
CONFLICT_FILE = "csrc/kernel.cu"
CONFLICT_PATCH = "0003-kernel.patch"
CULPRIT_SUBJECT = "ADLR/minillm!42 - Tune the kernel block size"
MERGE_SUBJECT = "Merge branch 'tune' into 'main'"


def _edit(path: str, line: int, new: str) -> bytes:
    rows = FILES[path].split("\n")
    rows[line - 1] = new
    return "\n".join(rows).encode()


def patches() -> list[PatchDef]:
    """Twelve patches, one file each; the third changes line 10 of the CUDA kernel."""
    out: list[PatchDef] = [
        ("0001-attn.patch", "Scale attention", "Scale the scores.", {"model/attn.py": _edit("model/attn.py", 5, "x4 = 40  # --- FLAGSCALE MODIFICATION ---")}),
        ("0002-ops.patch", "Faster op", "Return early.", {"csrc/ops.cpp": _edit("csrc/ops.cpp", 6, "int op5() { return 50; }  // --- FLAGSCALE MODIFICATION ---")}),
        (CONFLICT_PATCH, "Kernel for our chip", "Block size for the chip.",
         {CONFLICT_FILE: _edit(CONFLICT_FILE, 10, "__device__ int k9 = 900;  // --- FLAGSCALE MODIFICATION ---")}),
    ]
    for i in range(1, 10):
        path = f"model/m{i:02d}.py"
        out.append((f"{i + 3:04d}-m{i:02d}.patch", f"Tune module {i}", "Tune.", {path: _edit(path, 15, f"v14 = {i}00  # --- FLAGSCALE MODIFICATION ---")}))
    return out


def bot_workspace(tmp: Path) -> tuple[Workspace, Path]:
    """The workspace (a committed git repo, checkout ignored) pinned at v1, and the upstream repo with v2."""
    up = tmp / "up"
    make_repo(up, {k: v.encode() for k, v in FILES.items()}, [])
    ws = make_ws(tmp, up, "v1", patches())
    (ws.root / ".gitignore").write_text("third_party/\n")
    git(ws.root, "init", "-q", "-b", "main")
    git(ws.root, "add", "-A")
    git(ws.root, "commit", "-qm", "workspace at v1")
    git(up, "checkout", "-q", "-b", "tune")
    write_tree(up, {CONFLICT_FILE: _edit(CONFLICT_FILE, 10, "__device__ int k9 = 256;  // block size")})
    git(up, "commit", "-qam", CULPRIT_SUBJECT, date=BASE_DATE + 120)
    git(up, "checkout", "-q", "-")
    write_tree(up, {"model/attn.py": _edit("model/attn.py", 20, "x19 = 190")})
    git(up, "commit", "-qam", "Widen attention", date=BASE_DATE + 180)
    git(up, "merge", "-q", "--no-ff", "-m", MERGE_SUBJECT, "tune", date=BASE_DATE + 240)
    git(up, "tag", "v2")
    return ws, up
