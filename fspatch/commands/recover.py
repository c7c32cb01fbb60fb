"""``fspatch recover``: undo a verb that was killed half-way, from its journal.

Looks in every backend checkout's git dir and in the workspace's own git dir for
a journal left by an interrupted verb (core/journal.py) and puts back every
byte it saved.  A paused pull-upstream/rebase-vendors is not "interrupted": it
waits for continue/skip/abort, and recover leaves it alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core import journal
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError
from fspatch.git_adapter import GitRepo


@dataclass(frozen=True)
class Recovered:
    where: str  # backend name, or "workspace"
    operation: str
    restored: tuple[str, ...]


@dataclass(frozen=True)
class RecoverResult:
    recovered: tuple[Recovered, ...]


def run(ws: Workspace, backend: str | None = None) -> RecoverResult:
    places: list[tuple[str, GitRepo]] = []
    names = [ws.backend(backend).name] if backend else sorted(ws.backends())
    for name in names:
        path = ws.checkout_path(ws.backend(name))
        if GitRepo.is_repo(path):
            places.append((name, GitRepo.open(path)))
    if backend is None and GitRepo.is_repo(ws.root):
        places.append(("workspace", GitRepo.open(ws.root)))
    out = []
    for where, repo in places:
        done = journal.recover(repo.git_dir)
        if done is not None:
            out.append(Recovered(where, done[0], tuple(done[1])))
    return RecoverResult(tuple(out))


def require_any(result: RecoverResult) -> RecoverResult:
    if not result.recovered:
        raise UsageError("nothing to recover: no interrupted fspatch command left a journal")
    return result
