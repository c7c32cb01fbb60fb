"""Files and folders put back in memory when a verb fails half-way, where no journal covers them.

Why: the journal lives in a git dir and covers the workspace and the checkouts; some writes
have no journal around them: ``export --out DIR`` writes below a folder the user named outside
the workspace (a journal never names such a path, docs/security.md), and the workspace-only
verbs ``vendor add``, ``vendor layer`` and ``fmt`` run in workspaces that need not be git
repositories.  When one of them fails (a full disk, a read-only file, a name too long), what it
created below the targets goes again and what it overwrote gets its old bytes back, so the
failure leaves them exactly as they were.  A kill is not covered by this memory: so where the
workspace is a git repository, :func:`workspace_transaction` journals those verbs like every
other workspace write (``status`` shows a killed one, ``recover`` puts it back), and only a
workspace without a git dir falls back to the in-memory undo.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from fspatch.core.journal import transaction
from fspatch.git_adapter import GitRepo


@contextmanager
def workspace_transaction(
    operation: str, root: Path, *, files: Sequence[str] = (), dirs: Sequence[str] = ()
) -> Iterator[None]:
    """Journal a workspace-only verb's writes (``files`` and ``dirs``, relative to ``root``).

    Why: a kill between two of ``fmt``'s writes, or between ``vendor layer``'s folder and its
    layer.yaml, must be visible and undoable like a killed ``new``.  The journal lives in the
    workspace's own git dir; a workspace that is not a git repository has none, and its writes
    are put back in memory on failure (a kill there is not covered).
    """
    if GitRepo.is_repo(root) and (root / ".git").is_dir():
        with transaction(operation, root, git_dir=root / ".git", files=files, dirs=dirs):
            yield
        return
    with undone_on_failure(*(root / f for f in files), *(root / d for d in dirs)):
        yield


@contextmanager
def undone_on_failure(*targets: Path) -> Iterator[None]:
    """Run the block; if it raises, every target (a file or a folder) is put back byte for byte."""
    saved = [_Saved.of(t) for t in targets]
    try:
        yield
    except BaseException:
        for s in reversed(saved):
            s.put_back()
        raise


class _Saved:
    """One target as it was: its files' bytes and its folders, or the topmost folder it lacked."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.existed = target.exists() or target.is_symlink()
        self.files: dict[Path, bytes] = {}
        self.folders: set[Path] = set()
        made = target  # the topmost path the block may create
        while not made.parent.exists() and made.parent != made:
            made = made.parent
        self.made = made

    @classmethod
    def of(cls, target: Path) -> _Saved:
        s = cls(target)
        if target.is_file() and not target.is_symlink():
            s.files[target] = target.read_bytes()
        elif target.is_dir() and not target.is_symlink():
            for folder, _dirs, names in os.walk(target):
                s.folders.add(Path(folder))
                for name in names:
                    p = Path(folder, name)
                    if p.is_file() and not p.is_symlink():
                        s.files[p] = p.read_bytes()
        return s

    def put_back(self) -> None:
        if not self.existed:
            if self.made.is_dir() and not self.made.is_symlink():
                shutil.rmtree(self.made, ignore_errors=True)
            elif self.made.is_file() or self.made.is_symlink():
                self.made.unlink(missing_ok=True)
            return
        if self.target.is_dir() and not self.target.is_symlink():
            for folder, _dirs, names in os.walk(self.target, topdown=False):
                for name in names:
                    p = Path(folder, name)
                    if p not in self.files and not p.is_symlink():
                        p.unlink(missing_ok=True)
                if Path(folder) not in self.folders:
                    shutil.rmtree(folder, ignore_errors=True)
        for p, data in self.files.items():
            try:
                if p.read_bytes() == data:
                    continue
            except OSError:
                pass
            p.write_bytes(data)
