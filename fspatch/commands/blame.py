"""``fspatch blame``: every line of a patched file, owned by upstream or by the patch that added it.

FILE is a path in the backend tree (``minillm/model_runner.py``); a path through the checkout
(``third_party/minillm/minillm/model_runner.py``, relative to the current directory, or absolute)
is accepted too.  Read-only: the stack is built in memory.  See ``core/blame.py``.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from fspatch.core.blame import BlameResult, blame
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError


def tree_path(ws: Workspace, backend: str, file: str, cwd: Path | None = None) -> str:
    """FILE as a path in the backend tree."""
    checkout = ws.checkout_path(backend).resolve()
    here = cwd if cwd is not None else Path(os.getcwd())
    candidate = (here / file).resolve() if not Path(file).is_absolute() else Path(file).resolve()
    if candidate == checkout:
        raise UsageError(f"{file}: is the checkout itself; name a file inside it")
    if checkout in candidate.parents:
        return candidate.relative_to(checkout).as_posix()
    rel = PurePosixPath(file.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise UsageError(f"{file}: not a path inside the backend tree")
    return rel.as_posix().removeprefix("./")


def run(ws: Workspace, backend: str, file: str, *, vendor: str | None = None, cwd: Path | None = None) -> BlameResult:
    b = ws.backend(backend)
    return blame(ws, b.name, tree_path(ws, b.name, file, cwd), vendor)
