"""``fspatch push``: apply the next unapplied patch(es) of the current layer.

``--merge`` gets past a patch that does not apply (:mod:`fspatch.core.merge_apply`): a clean
3-way merge is pushed and the patch file refreshed at once; a conflict or rejected hunks push
the patch with the parent's content for those files, write conflict markers (``style``: diff3
or merge, as quilt's ``--merge=STYLE``) or ``FILE.rej`` into
the checkout and stop there, for the user to edit and ``refresh``.  Local edits to the files
that would be written are refused first; nothing changes then.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fspatch.core.merge_apply import APPLIED, REJECTED, MergeApply, merge_apply
from fspatch.core.patch import Patch, format_patch
from fspatch.core.restack import diff_between
from fspatch.core.session import Session
from fspatch.core.stack import AppliedPatch
from fspatch.core.workspace import Workspace
from fspatch.errors import ConflictError, DirtyCheckoutError

MERGE_HINT = "; 'fspatch push --merge' merges it 3-way (or writes .rej files)"


@dataclass(frozen=True)
class PushedFile:
    """A file of a pushed patch that needed --merge: merged clean, conflict markers, or rejects."""

    patch: str
    path: str
    how: str  # merged, conflict, rejected
    rejected: tuple[int, ...] = ()


@dataclass(frozen=True)
class PushResult:
    backend: str
    layer: str
    pushed: tuple[str, ...]
    top: str | None
    checkout: str = ""
    repaired: tuple[PushedFile, ...] = ()
    refreshed: tuple[str, ...] = ()  # patch files rewritten after a clean merge (workspace paths)
    stopped: bool = False  # the top patch has conflicts or rejects for the user to resolve


def run(
    ws: Workspace,
    backend: str,
    *,
    patch: str | None = None,
    all_: bool = False,
    vendor: str | None = None,
    merge: bool = False,
    style: str = "diff3",
) -> PushResult:
    s = Session.open(ws, backend)
    s.require_head_at_stack()
    layer, entries, ls = s.applied_layer(vendor, patch)
    s.require_top_layer(layer)
    if not merge:
        try:
            motion = s.push_motion(layer, entries, ls, patch=patch, all_=all_)
        except ConflictError as exc:
            raise ConflictError(exc.message + MERGE_HINT, path=exc.path) from None
        with s.transaction("push"):
            s.commit(motion.state, reason=f"push {', '.join(motion.pushed)}")
        return PushResult(s.backend.name, layer.label, motion.pushed, motion.top, s.backend.path)
    pending = s.to_push(layer, entries, ls, patch=patch, all_=all_)
    builder = s.builder()
    repo = s.repo
    applied: list[AppliedPatch] = []
    repaired: list[PushedFile] = []
    rewrites: dict[str, Patch] = {}
    leftover: MergeApply | None = None
    top = ls.top
    for e in pending:
        src = s.source(layer, e)
        try:
            commit = builder.apply(top, src)
        except ConflictError:
            m = merge_apply(repo, top, src, ("patch base", "current", e.name), style)
            repaired += [PushedFile(e.name, f.path, f.how, f.rejected) for f in m.files if f.how != APPLIED]
            if m.clean:
                fresh = replace(src.patch, files=diff_between(s, top, m.tree, src.display))
                rewrites[e.name] = fresh
                commit = builder.commit(m.tree, top, fresh)
            else:
                applied.append(AppliedPatch(e.name, builder.commit(m.tree, top, src.patch)))
                leftover = m
                break
        applied.append(AppliedPatch(e.name, commit))
        top = commit
    if leftover is not None:
        dirty = set(repo.dirty_paths()) & set(leftover.worktree_paths)
        if dirty:
            raise DirtyCheckoutError(
                f"local changes would be overwritten: {', '.join(sorted(dirty))}; "
                "refresh them into a patch or discard them first",
                path=s.backend.path,
            )
    state = s.require_state().with_layer(replace(ls, applied=ls.applied + tuple(applied)))
    d = layer.dir.as_posix()
    with s.transaction("push", files=[f"{d}/{n}" for n in rewrites]) as txn:
        for name, fresh in rewrites.items():
            ws.write_patch(layer, name, format_patch(fresh))
        s.commit(state, reason=f"push {', '.join(a.name for a in applied)}")
        if leftover is not None:
            txn.note_checkout(leftover.worktree_paths)
            repo.write_worktree(leftover.worktree, leftover.worktree_paths)
            if any(f.how == REJECTED for f in leftover.files):
                repo.exclude("*.rej")
    return PushResult(
        s.backend.name,
        layer.label,
        tuple(a.name for a in applied),
        applied[-1].name,
        s.backend.path,
        tuple(repaired),
        tuple(f"{d}/{n}" for n in rewrites),
        leftover is not None,
    )
