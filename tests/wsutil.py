"""Build real workspaces for tests: an upstream repo, a workspace, patches made with git diff."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from fspatch.cli import main_group
from fspatch.core.workspace import Workspace
from scripts.example import common_patches, git, git_bytes, make_series, make_upstream, patch_bytes


@dataclass
class WS:
    root: Path
    upstream: Path
    backend: str = "minillm"

    @property
    def checkout(self) -> Path:
        return self.root / "third_party" / self.backend

    @property
    def series_dir(self) -> Path:
        return self.root / "series" / self.backend

    def ws(self) -> Workspace:
        return Workspace.load(self.root)

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(main_group, ["-C", str(self.root), *args], catch_exceptions=False)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root (skipping .git) with its bytes: 'nothing changed' is equality."""
    out = {}
    for p in sorted(root.rglob("*")):
        if ".git" in p.relative_to(root).parts:
            continue
        if p.is_symlink():
            out[str(p.relative_to(root))] = b"-> " + str(p.readlink()).encode()
        elif p.is_file():
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


def make_workspace(tmp: Path, *, patches: bool = True, upstream: Path | None = None) -> WS:
    """The embedded example: upstream v1.0/v1.1 and a workspace with its 3-patch common layer."""
    up = upstream or tmp / "upstream"
    if upstream is None:
        make_upstream(up)
    root = tmp / "ws"
    r = CliRunner().invoke(main_group, ["init", str(root)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    w = WS(root, up)
    r = w.cli("backend", "add", "minillm", "--url", str(up), "--ref", "v1.0")
    assert r.exit_code == 0, r.output
    if patches:
        make_series(up, "v1.0", w.series_dir, common_patches())
    return w


Step = tuple[str, str, Callable[[Path], None]]


def write_patches(upstream: Path, ref: str, out_dir: Path, steps: Sequence[Step], *, append: bool = False) -> list[str]:
    """Each step edits a scratch clone (any edit: modes, renames, binaries); its git diff becomes a patch.

    Returns git's own tree id after each step: what fspatch must reproduce exactly.
    """
    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = out_dir.parent / (out_dir.name + ".scratch")
    git(out_dir.parent, "clone", "-q", str(upstream.resolve()), str(scratch))
    names = []
    try:
        git(scratch, "checkout", "-q", ref)
        for name, subject, edit in steps:
            edit(scratch)
            git(scratch, "add", "-A")
            diff = git_bytes(scratch, "diff", "--cached", "--full-index", "--binary", "-M", "-C")
            git(scratch, "commit", "-q", "--allow-empty", "-m", subject, date=1_700_000_000)
            (out_dir / name).write_bytes(patch_bytes(subject, "Test patch.", diff))
            names.append(git(scratch, "rev-parse", "HEAD^{tree}").strip())
        series = out_dir / "series"
        old = series.read_text() if append and series.exists() else ""
        series.write_text(old + "".join(step[0] + "\n" for step in steps))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return names
