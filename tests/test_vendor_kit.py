"""Shared builders for the vendor, export and import tests (and a check that they are stable)."""

from __future__ import annotations

from pathlib import Path

from fspatch.commands import backend as backend_cmd
from fspatch.commands import vendor as vendor_cmd
from fspatch.core.workspace import Workspace, init_workspace
from scripts.example import common_patches, make_series, make_upstream
from tests.gitutil import git

# A second backend, generated: "tinyserve" (its FlagScale spelling is "Tiny-Serve").
TINY_V1 = {
    "tinyserve/__init__.py": b'__version__ = "0.1"\n',
    "tinyserve/server.py": (
        b'"""A tiny server."""\n\n\ndef serve(port=8000):\n    host = "127.0.0.1"\n'
        b"    workers = 1\n    return (host, port, workers)\n"
    ),
    "tinyserve/sched.py": b"def schedule(reqs):\n    return sorted(reqs)\n",
}


def make_tiny_upstream(path: Path) -> str:
    """The second backend's upstream; returns the v0.1 commit."""
    from scripts.example import git as egit
    from scripts.example import write_tree

    path.mkdir(parents=True)
    egit(path, "init", "-q")
    write_tree(path, TINY_V1)
    egit(path, "add", "-A")
    egit(path, "commit", "-q", "-m", "tinyserve 0.1", date=1_700_000_000)
    egit(path, "tag", "v0.1")
    return egit(path, "rev-parse", "v0.1^{commit}").strip()


def tiny_common() -> list[tuple[str, str, str, dict[str, bytes | None]]]:
    server = TINY_V1["tinyserve/server.py"].replace(
        b"    workers = 1\n", b"    # --- FLAGSCALE MODIFICATION BEG ---\n    workers = 4\n    # --- FLAGSCALE MODIFICATION END ---\n"
    )
    return [("0001-more-workers.patch", "Use four workers", "More throughput.", {"tinyserve/server.py": server})]


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    return git(root, "rev-parse", "HEAD").decode().strip()


def make_workspace(tmp: Path, *, tiny: bool = True, common: bool = True) -> Workspace:
    """A git-tracked workspace pinning minillm v1.0 (and tinyserve v0.1) with their common layers."""
    up = tmp / "up_minillm"
    make_upstream(up)
    root = tmp / "ws"
    root.mkdir()
    init_workspace(root)
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text("third_party/\n")
    ws = Workspace.load(root)
    backend_cmd.run_add(ws, "minillm", url=str(up), ref="v1.0")
    if tiny:
        make_tiny_upstream(tmp / "up_tiny")
        ws = Workspace.load(root)
        backend_cmd.run_add(ws, "tinyserve", url=str(tmp / "up_tiny"), ref="v0.1")
    if common:
        make_series(up, "v1.0", root / "series" / "minillm", common_patches())
        if tiny:
            make_series(tmp / "up_tiny", "v0.1", root / "series" / "tinyserve", tiny_common())
    commit_all(root, "workspace")
    return Workspace.load(root)


def add_vendor(ws: Workspace, name: str = "cambricon_mlu", backend: str = "minillm", tasks: tuple[str, ...] = ("inference",)) -> None:
    if name not in ws.vendors():
        vendor_cmd.run_add(ws, name, device_type="Cambricon_MLU", contact="MLU Team <mlu@example.org>")
    vendor_cmd.run_layer(ws, name, backend, tasks=tasks, models=("Qwen3-8B",))


def tree_files(path: Path) -> dict[str, bytes]:
    """Every file below path (relative posix path → bytes), .git excluded."""
    out = {}
    for p in sorted(path.rglob("*")):
        if ".git" in p.relative_to(path).parts or not p.is_file():
            continue
        out[p.relative_to(path).as_posix()] = p.read_bytes()
    return out


def test_kit_workspace_is_reproducible(tmp_path: Path) -> None:
    """Two workspaces built by the kit pin the same commits and carry the same patch bytes."""
    a = make_workspace(tmp_path / "a")
    b = make_workspace(tmp_path / "b")
    assert a.backends()["minillm"].commit == b.backends()["minillm"].commit
    assert tree_files(a.root / "series") == tree_files(b.root / "series")
