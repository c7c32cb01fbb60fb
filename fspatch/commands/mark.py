"""``fspatch mark`` / ``refresh --mark``: fence every unmarked change of a patch, then refresh.

The wrapping happens in the checkout (so the user sees exactly what was added)
on the files the patch changes relative to its parent, then the usual refresh
records them (:mod:`fspatch.core.refresh`).  For a patch below the top, the stack is
popped to it first and pushed back afterwards: session motions, all in one journal.
"""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.journal import Journal, crash_point
from fspatch.core.markers import MarkerConfig, wrap_file
from fspatch.core.refresh import execute_refresh, plan_refresh
from fspatch.core.session import Session, resolve_patch
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
    layer, entries, ls = s.applied_layer(vendor, patch)
    names = ls.names()
    if not names:
        raise UsageError(f"no applied patch in {layer.dir} to mark")
    name = resolve_patch([e.name for e in entries], patch, layer) if patch else names[-1]
    if name not in names:
        raise UsageError(f"{name} is not applied; push it first")
    top = names[-1]
    with s.transaction("mark", files=[f"{layer.dir}/{name}"]) as txn:
        if name != top:
            s.require_head_at_stack()
            s.require_top_layer(layer)
            down = s.pop_motion(layer, entries, ls, patch=name, all_=False)
            s.commit(down.state, reason=f"pop {', '.join(down.popped)}")
            ls = s.check_applied_prefix(layer, s.entries(layer))
        wrapped = _wrap_worktree(s, ls.applied[-2].commit if len(ls.applied) > 1 else ls.base, layer.vendor, txn)
        crash_point("mark:wrapped")
        plan = plan_refresh(s, vendor=layer.vendor)
        txn.note_files(plan.files)
        file_changed = execute_refresh(s, plan)
        if name != top:
            up_layer, up_entries, up_ls = s.applied_layer(layer.vendor)
            up = s.push_motion(up_layer, up_entries, up_ls, patch=top, all_=False)
            s.require_head_at_stack()
            s.commit(up.state, reason=f"push {', '.join(up.pushed)}")
    return MarkResult(s.backend.name, layer.label, name, wrapped, file_changed)


def _wrap_worktree(s: Session, parent: str, label: str | None, txn: Journal) -> tuple[str, ...]:
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
            txn.note_worktree([path])
            (repo.workdir / path).write_bytes(new)
            wrapped.append(path)
    return tuple(wrapped)
