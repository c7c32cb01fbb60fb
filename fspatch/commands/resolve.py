"""``fspatch continue`` / ``skip`` / ``abort``: finish an interactive replay that stopped at a conflict.

continue records the checkout (where the person resolved the conflict) into the stopped
patch -- refused while a conflicted file still holds conflict markers -- and resumes;
skip drops the stopped patch from its layer (listed as skipped in the report) and
resumes; abort is ``recover`` for the paused replay too: it puts back every byte saved
when the operation started and drops the plan (:mod:`fspatch.core.journal`).  With no
replay waiting, abort undoes an interrupted verb the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core import journal
from fspatch.core.auto_resolve import record_person, store_for
from fspatch.core.replay import Progress, Replayer, has_markers
from fspatch.core.replay_driver import OperationResult, resume_operation
from fspatch.core.session import Session
from fspatch.core.workspace import Workspace
from fspatch.errors import ConflictError, UsageError
from fspatch.git_adapter import GitRepo


@dataclass(frozen=True)
class AbortResult:
    backend: str
    operation: str
    restored: tuple[str, ...]


def _places(ws: Workspace, backend: str | None) -> list[tuple[str, GitRepo]]:
    names = [ws.backend(backend).name] if backend else sorted(ws.backends())
    out = []
    for name in names:
        path = ws.checkout_path(ws.backend(name))
        if GitRepo.is_repo(path):
            out.append((name, GitRepo.open(path)))
    return out


def _open(ws: Workspace, backend: str | None) -> Session:
    found = [name for name, repo in _places(ws, backend) if journal.paused_replay(repo.git_dir, ws.root) is not None]
    if not found:
        raise UsageError("no pull-upstream or rebase-vendors in progress" + (f" for '{backend}'" if backend else ""))
    if len(found) > 1:
        raise UsageError("operations are in progress for several backends; say which with -b BACKEND")
    return Session.open(ws, found[0], fetch=False, operation_ok=True)


def run_continue(ws: Workspace, backend: str | None = None, *, progress: Progress | None = None) -> OperationResult:
    s = _open(ws, backend)
    plan = journal.pending(s.repo.git_dir, ws.root)
    assert plan is not None and plan.plan is not None
    stopped = plan.plan.stopped
    if stopped is not None:
        wd = s.repo.workdir
        left = []
        for path in stopped.paths:
            full = wd / path
            if full.is_file() and not full.is_symlink() and has_markers(full.read_bytes()):
                lines = full.read_bytes().split(b"\n")
                first = next(i for i, line in enumerate(lines, 1) if has_markers(line))
                left.append(f"{s.backend.path}/{path}:{first}")
        if left:
            raise ConflictError(
                "conflict markers remain in "
                + ", ".join(left)
                + "; edit them out, then 'fspatch continue' (or 'fspatch skip' / 'fspatch abort')"
            )
    driver, txn = resume_operation(s, progress)
    if driver.plan.stopped is not None:
        replayer = driver.replayer()
        if driver.plan.resolve != "none":
            _record(s, driver.plan.backend, replayer, driver.plan.stopped.patch)
        tree = s.repo.snapshot_worktree()
        replayer.resolve(tree, driver.patch_of)
    return driver.drive(txn)


def _record(s: Session, backend: str, replayer: Replayer, patch: str) -> None:
    """Store the person's resolution of each conflict region (rerere) before the replay goes on."""
    files, labels = replayer.stopped_files()
    wd = s.repo.workdir

    def final_of(path: str) -> bytes | None:
        full = wd / path
        return full.read_bytes() if full.is_file() and not full.is_symlink() else None

    name, email = s.repo.identity()
    plan = replayer.plan
    assert plan.stopped is not None
    proposed = {(r.path, r.region): r.after for r in plan.stopped.outcome.resolutions}
    record_person(
        s.repo,
        store_for(s.ws.root, backend),
        files,
        labels,
        final_of,
        author=f"{name} <{email}>",
        patch=patch,
        context=f"{plan.operation} {plan.old_ref} -> {plan.new_ref}",
        proposed=proposed,
    )


def run_skip(ws: Workspace, backend: str | None = None, *, progress: Progress | None = None) -> OperationResult:
    s = _open(ws, backend)
    data = journal.pending(s.repo.git_dir, ws.root)
    assert data is not None and data.plan is not None
    if data.plan.stopped is None:
        raise UsageError("the operation is not stopped at a patch; use 'fspatch continue' or 'fspatch abort'")
    driver, txn = resume_operation(s, progress)
    driver.replayer().skip()
    return driver.drive(txn)


def run_abort(ws: Workspace, backend: str | None = None) -> AbortResult:
    """Undo the paused replay (or, with none, an interrupted verb): recover, then the plan is dropped."""
    places = _places(ws, backend)
    paused = [(name, repo) for name, repo in places if journal.paused_replay(repo.git_dir, ws.root) is not None]
    if len(paused) > 1:
        raise UsageError("operations are in progress for several backends; say which with -b BACKEND")
    if not paused and backend is None and GitRepo.is_repo(ws.root):
        places.append(("workspace", GitRepo.open(ws.root)))
    found = []
    for where, repo in paused or places:
        done = journal.recover(repo.git_dir, ws.root, paused_too=True)
        if done is not None:
            found.append((where, done[0], done[1]))
    if not found:
        raise UsageError("no pull-upstream or rebase-vendors in progress" + (f" for '{backend}'" if backend else ""))
    return AbortResult(found[0][0], found[0][1], tuple(p for _, _, paths in found for p in paths))
