"""``fspatch continue`` / ``skip`` / ``abort``: finish an interactive replay that stopped at a conflict.

continue records the checkout (where the person resolved the conflict) into the stopped
patch -- refused while a conflicted file still holds conflict markers -- and resumes;
skip drops the stopped patch from its layer (listed as skipped in the report) and
resumes; abort puts back every byte saved when the operation started
(:mod:`fspatch.core.journal`).
"""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core import journal
from fspatch.core.rebase import Driver, OperationResult, Plan, Progress, has_markers
from fspatch.core.session import Session
from fspatch.core.workspace import Workspace
from fspatch.errors import ConflictError, UsageError
from fspatch.git_adapter import GitRepo


@dataclass(frozen=True)
class AbortResult:
    backend: str
    operation: str
    restored: tuple[str, ...]


def _open(ws: Workspace, backend: str | None) -> tuple[Session, dict]:  # type: ignore[type-arg]
    names = [backend] if backend else list(ws.backends())
    found = []
    for name in names:
        b = ws.backend(name)
        path = ws.checkout_path(b)
        if GitRepo.is_repo(path):
            data = journal.in_progress(GitRepo.open(path))
            if data is not None:
                found.append((b.name, data))
    if not found:
        raise UsageError("no pull-upstream or rebase-vendors in progress" + (f" for '{backend}'" if backend else ""))
    if len(found) > 1:
        raise UsageError("operations are in progress for several backends; say which with -b BACKEND")
    name, data = found[0]
    return Session.open(ws, name, fetch=False, operation_ok=True), data


def run_continue(ws: Workspace, backend: str | None = None, *, progress: Progress | None = None) -> OperationResult:
    s, data = _open(ws, backend)
    plan = Plan.from_dict(data["plan"])
    driver = Driver(s, plan, progress)
    if plan.stopped is not None:
        wd = s.repo.workdir
        left = []
        for path in plan.stopped["paths"]:
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
        tree = s.repo.snapshot_worktree()
        driver.replayer().resolve(tree, driver.patch_of)
    return driver.drive(data["saved"])


def run_skip(ws: Workspace, backend: str | None = None, *, progress: Progress | None = None) -> OperationResult:
    s, data = _open(ws, backend)
    plan = Plan.from_dict(data["plan"])
    if plan.stopped is None:
        raise UsageError("the operation is not stopped at a patch; use 'fspatch continue' or 'fspatch abort'")
    driver = Driver(s, plan, progress)
    driver.replayer().skip()
    return driver.drive(data["saved"])


def run_abort(ws: Workspace, backend: str | None = None) -> AbortResult:
    try:
        s, data = _open(ws, backend)
    except UsageError:
        # No paused replay: an interrupted verb's journal is undone the same way (recover).
        from fspatch.commands import recover

        found = recover.run(ws, backend).recovered
        if not found:
            raise
        return AbortResult(found[0].where, found[0].operation, tuple(p for r in found for p in r.restored))
    restored = journal.restore(ws.root, s.repo, data["saved"])
    journal.clear(s.repo)
    return AbortResult(s.backend.name, str(data.get("operation")), tuple(restored))
