"""``fspatch recover``: undo a verb that was killed half-way, from its journal.

Looks in every backend checkout's git dir and in the workspace's own git dir for
a journal left by an interrupted verb (core/journal.py) and puts back every
byte it saved.  A paused pull-upstream/rebase-vendors is not "interrupted": it
waits for continue/skip/abort, and recover leaves it alone.

A journal found on disk is checked before it is acted on (core/journal_check.py): one that
is damaged or whose orders reach outside the workspace is refused, never acted on, and
``--discard`` drops it (after the user inspected it) without undoing anything.  The journal
of ``apply --to DIR`` is undone only when the user names DIR (``--to DIR``): a journal alone
never makes fspatch touch a path outside the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
class Discarded:
    where: str  # backend name, or "workspace"
    removed: tuple[str, ...]  # the journal files and saved folders dropped


@dataclass(frozen=True)
class RecoverResult:
    recovered: tuple[Recovered, ...]
    discarded: tuple[Discarded, ...] = ()


def _places(ws: Workspace, backend: str | None) -> list[tuple[str, GitRepo]]:
    places: list[tuple[str, GitRepo]] = []
    names = [ws.backend(backend).name] if backend else sorted(ws.backends())
    for name in names:
        path = ws.checkout_path(ws.backend(name))
        if GitRepo.is_repo(path):
            places.append((name, GitRepo.open(path)))
    if backend is None and GitRepo.is_repo(ws.root):
        places.append(("workspace", GitRepo.open(ws.root)))
    return places


def run(ws: Workspace, backend: str | None = None, *, to: Path | None = None) -> RecoverResult:
    """Undo every interrupted verb's journal (each checked first; ``to`` confirms an ``apply --to``)."""
    out = []
    for where, repo in _places(ws, backend):
        done = journal.recover(repo.git_dir, ws.root, outside=to.resolve() if to is not None else None)
        if done is not None:
            out.append(Recovered(where, done[0], tuple(done[1])))
    return RecoverResult(tuple(out))


def run_discard(ws: Workspace, backend: str | None = None) -> RecoverResult:
    """Drop every journal unread, undoing nothing (the way out of a journal fspatch refuses)."""
    out = []
    for where, repo in _places(ws, backend):
        gone = journal.discard(repo.git_dir)
        if gone:
            out.append(Discarded(where, tuple(gone)))
    if not out:
        raise UsageError("nothing to discard: no journal was found")
    return RecoverResult((), tuple(out))


def refuse_pending(ws: Workspace) -> None:
    """Refuse a changing verb while any journal of this workspace waits (every backend's, and the
    workspace's own): the journal's undo would remove or overwrite what the verb writes."""
    for where, repo in _places(ws, None):
        journal.refuse_if_pending(repo.git_dir, where if where == "workspace" else ws.backend(where).path, ws.root)


def require_any(result: RecoverResult) -> RecoverResult:
    if not result.recovered:
        raise UsageError("nothing to recover: no interrupted fspatch command left a journal")
    return result
