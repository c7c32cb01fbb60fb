"""Real upstream histories and workspaces for the pull-upstream / rebase-vendors tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from fspatch.commands import apply as apply_cmd
from fspatch.commands import backend as backend_cmd
from fspatch.core.workspace import Workspace, init_workspace
from scripts.example import BASE_DATE, git, make_series, write_tree

Changes = Mapping[str, "bytes | None"]
PatchDef = tuple[str, str, str, Mapping[str, "bytes | None"]]


def make_repo(path: Path, base: Changes, history: Sequence[tuple[str, Changes, str | None]], tag0: str = "v1") -> dict[str, str]:
    """An upstream repo: base commit tagged tag0, then (subject, changes, tag) commits."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    write_tree(path, base)
    git(path, "add", "-A")
    date = BASE_DATE
    git(path, "commit", "-q", "-m", "Initial import", date=date)
    git(path, "tag", tag0)
    for subject, changes, tag in history:
        date += 60
        renames = {k: v for k, v in changes.items() if k.startswith("mv:")}
        for key, dest in renames.items():
            assert isinstance(dest, bytes)
            (path / dest.decode()).parent.mkdir(parents=True, exist_ok=True)
            git(path, "mv", key[3:], dest.decode())
        write_tree(path, {k: v for k, v in changes.items() if not k.startswith("mv:")})
        git(path, "add", "-A")
        git(path, "commit", "-q", "--allow-empty", "-m", subject, date=date)
        if tag:
            git(path, "tag", tag)
    return {t: git(path, "rev-parse", f"{t}^{{commit}}").strip() for t in git(path, "tag").split()}


def make_ws(tmp: Path, upstream: Path, ref: str, patches: Sequence[PatchDef], *, apply: bool = True,
            vendors: Mapping[str, Sequence[PatchDef]] | None = None) -> Workspace:
    """A workspace pinning upstream at ref with a common layer (and vendor layers on top of it)."""
    root = tmp / "ws"
    init_workspace(root)
    ws = Workspace.load(root)
    backend_cmd.run_add(ws, "minillm", url=str(upstream.resolve()), ref=ref)
    ws = Workspace.load(root)
    make_series(upstream, ref, root / "series" / "minillm", list(patches))
    for vendor, vpatches in (vendors or {}).items():
        vdir = root / "vendors" / vendor
        vdir.mkdir(parents=True, exist_ok=True)
        (vdir / "vendor.yaml").write_text(f"name: {vendor}\ndevice_type: Test_Chip\n")
        # Vendor patches are made on upstream + common: a scratch upstream clone with common applied.
        scratch = tmp / f"scratch-{vendor}"
        git(tmp, "clone", "-q", str(upstream.resolve()), str(scratch))
        git(scratch, "checkout", "-q", ref)
        for _name, subject, _d, changes in patches:
            write_tree(scratch, changes)
            git(scratch, "add", "-A")
            git(scratch, "commit", "-q", "-m", subject, date=BASE_DATE)
        git(scratch, "tag", "common-top")
        make_series(scratch, "common-top", vdir / "minillm", list(vpatches))
        (vdir / "minillm" / "layer.yaml").write_text("tasks: [inference]\nmodels: []\n")
    if apply:
        apply_cmd.run(ws, "minillm")
    return ws


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file below root (including the backend's .git), by relative path."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            if p.is_symlink():
                out[str(p.relative_to(root))] = b"->" + os.readlink(p).encode()
            else:
                out[str(p.relative_to(root))] = p.read_bytes()
    return out


def lines(n: int, prefix: str = "line") -> list[str]:
    return [f"{prefix} {i}\n" for i in range(1, n + 1)]


def text(ls: Sequence[str]) -> bytes:
    return "".join(ls).encode()


def run_git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=False)
