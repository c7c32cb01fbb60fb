"""``fspatch mark`` / ``refresh --mark``: fence every unmarked change of a patch, then refresh.

The wrapping happens in the checkout (so the user sees exactly what was added)
on the files the patch changes relative to its parent, then the usual refresh
records them.  For a patch below the top, the stack is popped to it first and
pushed back afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.commands import goto, refresh
from fspatch.core import transaction
from fspatch.core.markers import MarkerConfig, wrap_file
from fspatch.core.session import Session, resolve_patch
from fspatch.core.transaction import crash_point
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class MarkResult:
    backend: str
    layer: str
    patch: str
    wrapped: tuple[str, ...]
    file_changed: bool


def run(ws: Workspace, backend: str, *, patch: str | None = None, vendor: str | None = None) -> MarkResult:
    s = Session.open(ws, backend)
    s.require_head_at_stack(allow_descendant=True)
    layer, entries, ls = s.applied_layer(vendor)
    names = ls.names()
    if not names:
        raise UsageError(f"no applied patch in {layer.dir} to mark")
    name = resolve_patch([e.name for e in entries], patch, layer) if patch else names[-1]
    if name not in names:
        raise UsageError(f"{name} is not applied; push it first")
    top = names[-1]
    with s.transaction("mark", files=[f"{layer.dir}/{name}"]):
        if name != top:
            goto.run(ws, backend, name, vendor=layer.vendor)
            s = Session.open(ws, backend)
            ls = s.check_applied_prefix(layer, s.entries(layer))
        wrapped = _wrap_worktree(s, ls.applied[-2].commit if len(ls.applied) > 1 else ls.base, layer.vendor)
        crash_point("mark:wrapped")
        r = refresh.run(ws, backend, vendor=layer.vendor)
        if name != top:
            goto.run(ws, backend, top, vendor=layer.vendor)
    return MarkResult(s.backend.name, layer.label, name, wrapped, r.file_changed)


def _wrap_worktree(s: Session, parent: str, label: str | None) -> tuple[str, ...]:
    repo = s.repo
    config = MarkerConfig.from_settings(s.ws.settings())
    parent_tree = repo.tree_of(parent)
    upstream_tree = repo.tree_of(s.backend.commit)
    work_tree = repo.snapshot_worktree()
    wrapped = []
    for path in sorted(set(repo.changed_paths(parent_tree, work_tree))):
        after = repo.read_file(work_tree, path)
        if after is None:
            continue
        before = repo.read_file(parent_tree, path)
        new = wrap_file(
            path,
            before[0] if before else None,
            after[0],
            config=config,
            label=label,
            upstream_has_file=repo.entry(upstream_tree, path) is not None,
        )
        if new != after[0]:
            txn = transaction.active(repo.git_dir)
            if txn is not None:
                txn.note_worktree([path])
            (repo.workdir / path).write_bytes(new)
            wrapped.append(path)
    return tuple(wrapped)
