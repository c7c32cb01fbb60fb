"""Recording the checkout's edits into one applied patch: computed in memory, then written once.

The checkout (staged, unstaged and untracked files; adds, deletes, renames,
binaries, modes) is snapshotted as a tree in memory.  For the top patch that
tree *is* the patch's new tree; for a lower patch the edits are merged into it
(3-way: ancestor = the stack top, ours = the patch, theirs = the checkout) and
the patches above are replayed on it in memory (:func:`fspatch.core.replay.replay_commit`);
if any of that conflicts, nothing changes.  Only the refreshed patch's file is
rewritten, and not at all when its bytes would stay the same, so a refresh with no
edits is a no-op.

:func:`plan_refresh` computes, :func:`execute_refresh` writes (inside the caller's
journal, which must cover :attr:`RefreshPlan.files`): ``refresh`` and ``mark`` compose them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from fspatch.core.journal import crash_point
from fspatch.core.layers import common_fingerprint
from fspatch.core.patch import FileDiff, Patch, format_patch, parse_diff
from fspatch.core.replay import replay_commit
from fspatch.core.session import Session, read_patch, resolve_patch
from fspatch.core.stack import AppliedPatch, LayerState, StackState
from fspatch.core.workspace import LayerRef
from fspatch.errors import ConflictError, UsageError
from fspatch.git_adapter import GitRepo


@dataclass(frozen=True)
class RefreshPlan:
    """One refresh, computed: the patch's new text, the new stack, the checkout paths to re-index."""

    layer: LayerRef
    name: str
    display: str  # the patch file, relative to the workspace
    patch: Patch
    old_state: StackState
    new_state: StackState
    touched: tuple[str, ...]

    @property
    def files(self) -> list[str]:
        """Workspace files the refresh may write (for the journal)."""
        return [self.display, f"{self.layer.dir}/layer.yaml"] if self.layer.vendor else [self.display]


def plan_refresh(s: Session, *, patch: str | None = None, vendor: str | None = None) -> RefreshPlan:
    ws = s.ws
    state = s.require_state()
    s.require_head_at_stack()  # a commit on top is the user's: refused, as pop and push do
    layer, entries, ls = s.applied_layer(vendor, patch)
    names = ls.names()
    if not names:
        raise UsageError(f"no applied patch in {layer.dir} to refresh; create one with 'fspatch new NAME'")
    name = resolve_patch([e.name for e in entries], patch, layer) if patch else names[-1]
    if name not in names:
        raise UsageError(f"{name} is not applied; push it first ('fspatch push {name}')")
    idx = names.index(name)
    repo = s.repo
    old_head = repo.head()
    assert old_head is not None
    head_tree = repo.tree_of(old_head)
    dirty = repo.dirty_paths()
    work_tree = repo.snapshot_worktree(dirty)
    target = ls.applied[idx].commit
    parent = ls.applied[idx - 1].commit if idx else ls.base
    li = state.index_of(layer.label)
    is_top = li == len(state.layers) - 1 and idx == len(names) - 1
    if is_top:
        new_tree = work_tree
    else:
        merged = repo.merge_trees(head_tree, repo.tree_of(target), work_tree)
        if merged.tree is None:
            raise ConflictError(
                f"the edits conflict with {name} in {', '.join(merged.conflicts)}; refresh the top patch instead"
            )
        new_tree = merged.tree

    display = f"{layer.dir}/{name}"
    path = ws.patch_path(layer, name)
    entry = next(e for e in entries if e.name == name)
    old_patch = read_patch(path, display, entry.strip)
    target_tree = repo.tree_of(target)
    if new_tree == target_tree:
        new_patch = old_patch  # nothing to record: the file keeps every byte, whoever wrote it
    else:
        fresh = parse_diff(repo.diff_trees(repo.tree_of(parent), new_tree), display)
        new_patch = replace(old_patch, files=keep_unchanged(repo, old_patch.files, fresh, target_tree, new_tree))
    builder = s.builder()
    new_commit = builder.commit(new_tree, parent, new_patch)

    # Replay everything above the refreshed patch, in this layer and the layers above.
    layers = list(state.layers)
    cur_layer = list(ls.applied)
    cur_layer[idx] = AppliedPatch(name, new_commit)
    prev_old, prev_new = target, new_commit
    for j in range(idx + 1, len(cur_layer)):
        cur_layer[j], prev_old, prev_new = replay_commit(repo, builder, cur_layer[j], prev_old, prev_new)
    layers[li] = replace(ls, applied=tuple(cur_layer))
    for k in range(li + 1, len(layers)):
        upper = layers[k]
        new_applied = list(upper.applied)
        base_new = prev_new
        for j in range(len(new_applied)):
            new_applied[j], prev_old, prev_new = replay_commit(repo, builder, new_applied[j], prev_old, prev_new)
        layers[k] = LayerState(upper.layer, base_new, tuple(new_applied))
    new_state = StackState(state.backend, state.upstream, tuple(layers))
    if repo.tree_of(new_state.head) != work_tree:
        raise ConflictError(
            f"the edits cannot be moved into {name} cleanly (a patch above changes the same lines); "
            "refresh the top patch instead"
        )

    touched = set(dirty)
    if new_state.head != old_head:
        touched.update(repo.changed_paths(head_tree, repo.tree_of(new_state.head)))
    return RefreshPlan(layer, name, display, new_patch, state, new_state, tuple(sorted(touched)))


def execute_refresh(s: Session, plan: RefreshPlan) -> bool:
    """Write the patch file (when its bytes change), the layer's base, the state ref, HEAD, the index."""
    repo = s.repo
    file_changed = s.ws.put_patch(plan.layer, plan.name, format_patch(plan.patch))
    crash_point("refresh:patch-file")
    if file_changed and plan.layer.vendor is not None:
        record_base(s, plan.layer)
    if plan.new_state != plan.old_state:
        s.commit(plan.new_state, reason=f"refresh {plan.name}", checkout=False)
    if repo.head() != plan.new_state.head:
        repo.set_head(plan.new_state.head)
    crash_point("refresh:head")
    if plan.touched:
        repo.reset_index(plan.new_state.head, list(plan.touched))
    return file_changed


def record_base(s: Session, layer: LayerRef) -> None:
    """A vendor layer remembers the base it was last refreshed on (issue 6): pin + common fingerprint."""
    if not (s.ws.layer_dir(layer) / "layer.yaml").is_file():
        return
    meta = s.ws.layer_meta(layer)
    base = {"upstream_commit": s.backend.commit, "common_fingerprint": common_fingerprint(s.ws, s.backend.name)}
    old = meta.get("base")
    if old is None or dict(old) != base:
        meta["base"] = base
        s.ws.save_layer_meta(layer, meta)


def keep_unchanged(
    repo: GitRepo, old: Sequence[FileDiff], fresh: Sequence[FileDiff], old_tree: str, new_tree: str
) -> tuple[FileDiff, ...]:
    """Fresh file diffs, except that a file whose result did not change keeps its old text."""
    by_key = {(f.old_path, f.new_path, f.status): f for f in old}
    out = []
    for f in fresh:
        prev = by_key.get((f.old_path, f.new_path, f.status))
        paths = [p for p in (f.old_path, f.new_path) if p is not None]
        if prev is not None and all(repo.entry(old_tree, p) == repo.entry(new_tree, p) for p in paths):
            out.append(prev)
        else:
            out.append(f)
    return tuple(out)
