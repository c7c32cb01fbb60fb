"""Writes below a folder outside the workspace, held back until all are made (``export --out DIR``).

Why: ``DIR`` is the user's (often a FlagScale checkout); a journal never names a path outside the
workspace (docs/security.md), so a kill half-way through an export would leave some layers
written and others not.  Instead every new file is written first into a staging folder in the
workspace's git dir (``.git/fspatch/staged``: nothing is written beside ``DIR``), and only once
all of them are there are they moved into place, one ``rename`` each (a copy and rename when
``DIR`` is on another file system).  A kill before that leaves ``DIR`` exactly as it was (the
staging folder is swept by the next export); the moves themselves take microseconds (the one
window left, documented in docs/security.md).  Files whose bytes are already there are
not touched, so an export with nothing new changes nothing.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fspatch.core.journal import crash_point
from fspatch.core.undo import undone_on_failure
from fspatch.core.yamlio import atomic_write

STAGE = "staged"


class StagedDir:
    """The files one verb writes below ``out``, moved into place together by :meth:`commit`."""

    def __init__(self, out: Path, git_dir: Path) -> None:
        self.out = out
        self.stage = git_dir / "fspatch" / STAGE
        self._moves: list[tuple[Path, Path]] = []  # (staged copy, target below out)
        if self.stage.is_symlink():
            self.stage.unlink()
        elif self.stage.exists():
            shutil.rmtree(self.stage)  # left by a killed export: never moved, so never part of out

    def write(self, path: Path, data: bytes) -> bool:
        """Stage ``data`` for ``path`` (below ``out``); False when ``path`` already holds it."""
        target = Path(os.path.realpath(path)) if path.is_symlink() else path
        mode: int | None = None
        if target.is_file():
            mode = stat.S_IMODE(target.stat().st_mode)
            try:
                if target.read_bytes() == data:
                    return False
            except OSError:
                pass
        staged = self.stage / path.relative_to(self.out)
        staged.parent.mkdir(parents=True, exist_ok=True)
        staged.write_bytes(data)
        if mode is not None:
            os.chmod(staged, mode)
        self._moves = [m for m in self._moves if m[1] != target] + [(staged, target)]
        return True

    def commit(self) -> None:
        """Move every staged file into place (a failure half-way puts the moved ones back).

        Why last and nothing else: the caller's journal is dropped right after, so the moves are
        the whole window in which a kill leaves DIR part new (microseconds; docs/security.md).
        The staging folder is dropped by :meth:`discard` once the journal is gone.
        """
        crash_point("export:staged")
        with undone_on_failure(*(target for _staged, target in self._moves)):
            for staged, target in self._moves:
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.replace(staged, target)
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
                    atomic_write(target, staged.read_bytes())  # out on another file system

    def discard(self) -> None:
        shutil.rmtree(self.stage, ignore_errors=True)


@contextmanager
def staged_discarded(staged: StagedDir | None) -> Iterator[None]:
    """Drop the staging folder when the block fails (nothing of it reached ``out``)."""
    try:
        yield
    except BaseException:
        if staged is not None:
            staged.discard()
        raise
