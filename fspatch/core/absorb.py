"""Recording the checkout's edits into the patches that own them: computed in memory, written once.

The routing is :mod:`fspatch.core.absorb_route`.  The plan then rewrites the stack in memory:
a patch absorb creates is first added, empty, at the top of its layer; then, from the lowest
destination up, each destination's hunks are merged into its commit (3-way, ancestor = the
stack top, ours = the patch, theirs = the stack top with only those hunks — the merge
``refresh`` does for a lower patch) and every patch above is replayed on it
(:func:`fspatch.core.replay.replay_commit`).  The new stack top must be the checkout's tree;
any conflict, or a top that differs, refuses with nothing changed.

:func:`plan_absorb` computes; :func:`execute_absorb` writes the destination patch files (only
those whose bytes change), the series of layers that got a new patch, a vendor layer's base,
the state ref, HEAD and the index, inside the caller's journal (:attr:`AbsorbPlan.files`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from fspatch.core.absorb_route import EditHunk, Route, Router, edit_hunks, route_hunks
from fspatch.core.journal import crash_point
from fspatch.core.patch import Patch, format_patch, parse_diff
from fspatch.core.refresh import keep_unchanged, record_base
from fspatch.core.replay import replay_commit
from fspatch.core.series import SeriesEntry
from fspatch.core.session import Session, read_patch, resolve_patch
from fspatch.core.stack import AppliedPatch, Builder, LayerState, StackState
from fspatch.core.workspace import LayerRef
from fspatch.errors import ConflictError, UsageError
from fspatch.git_adapter import Entry, GitRepo


@dataclass(frozen=True)
class PatchWrite:
    """One destination patch: its layer, file name, new text, and whether absorb created it."""

    layer: LayerRef
    name: str
    display: str
    patch: Patch
    new: bool


@dataclass(frozen=True)
class AbsorbPlan:
    routes: tuple[Route, ...]
    writes: tuple[PatchWrite, ...]
    series: tuple[tuple[LayerRef, tuple[SeriesEntry, ...]], ...]  # layers that got new patches
    old_state: StackState
    new_state: StackState
    touched: tuple[str, ...]

    @property
    def files(self) -> list[str]:
        """Workspace files the absorb may write (for the journal)."""
        out = [w.display for w in self.writes]
        out += [f"{layer.dir}/series" for layer, _ in self.series]
        out += sorted({f"{w.layer.dir}/layer.yaml" for w in self.writes if w.layer.vendor})
        return out


def check_index(repo: GitRepo, where: str) -> None:
    """Refuse index states whose meaning is unclear: conflict stages, or a file staged and edited again."""
    unmerged, partly = repo.index_problems()
    if unmerged:
        raise UsageError(
            f"{where}: {unmerged[0]} has unresolved conflicts in the index"
            f"{f' (and {len(unmerged) - 1} more)' if len(unmerged) > 1 else ''}; "
            "resolve and 'git add' them, or 'git reset' them, first"
        )
    if partly:
        raise UsageError(
            f"{where}: {partly[0]} is staged and then edited again; fspatch records the working tree: "
            f"'git add {partly[0]}' or 'git restore --staged {partly[0]}' first"
        )


def plan_absorb(
    s: Session,
    *,
    layer: str | None = None,
    into: str | None = None,
    per_file: bool | None = None,
) -> AbsorbPlan:
    """Route every edited hunk and compute the stack with the hunks inside their patches."""
    state = s.require_state()
    s.require_head_at_stack()
    repo = s.repo
    check_index(repo, s.backend.path)
    head = repo.head()
    assert head is not None
    head_tree = repo.tree_of(head)
    dirty = repo.dirty_paths()
    work_tree = repo.snapshot_worktree(dirty)
    hunks = edit_hunks(repo, head_tree, work_tree)
    if not hunks:
        raise UsageError(f"nothing to absorb: {s.backend.path} has no edits against the stack top")
    scope = s.layer_ref(layer).label if layer is not None else None
    into_ref = _resolve_into(s, into, scope) if into is not None else None
    series = {
        ls.layer: [e.name for e in s.entries(LayerRef.from_label(s.backend.name, ls.layer))] for ls in state.layers
    }
    router = Router(repo, state, scope=scope, into=into_ref, series=series, per_file=per_file)
    routes = route_hunks(router, hunks)

    builder = s.builder()
    layers = [list(ls.applied) for ls in state.layers]
    bases = [ls.base for ls in state.layers]
    labels = [ls.layer for ls in state.layers]
    new_entries: dict[int, list[SeriesEntry]] = {}
    created: dict[tuple[str, str], Patch] = {}
    for r in routes:
        if not r.new or (r.layer, r.patch) in created:
            continue
        li = labels.index(r.layer)
        ref = LayerRef.from_label(s.backend.name, r.layer)
        entries = new_entries.setdefault(li, s.entries(ref))
        author_name, email = repo.identity()
        patch = Patch(author=f"{author_name} <{email}>", subject=r.hunk.path)
        created[(r.layer, r.patch)] = patch
        top = layers[li][-1].commit if layers[li] else bases[li]
        commit = builder.commit(repo.tree_of(top), top, patch)
        entries.insert(len(layers[li]), SeriesEntry(r.patch))
        layers[li].append(AppliedPatch(r.patch, commit))
        _replay_above(repo, builder, layers, bases, li, len(layers[li]) - 1, top, commit)

    # Destinations, lowest first: the hunks of each, merged into its commit.
    dests: dict[tuple[int, str], list[EditHunk]] = {}
    for r in routes:
        dests.setdefault((labels.index(r.layer), r.patch), []).append(r.hunk)
    order = sorted(dests, key=lambda k: (k[0], [p.name for p in layers[k[0]]].index(k[1])))
    writes: list[PatchWrite] = []
    for li, name in order:
        pi = [p.name for p in layers[li]].index(name)
        ref = LayerRef.from_label(s.backend.name, labels[li])
        theirs = _with_hunks(repo, head_tree, work_tree, dests[(li, name)])
        cur = layers[li][pi].commit
        merged = repo.merge_trees(head_tree, repo.tree_of(cur), theirs)
        where = ", ".join(h.where for h in dests[(li, name)][:3])
        if merged.tree is None:
            raise ConflictError(
                f"{where}: cannot go into {ref.dir}/{name} cleanly (conflict in {', '.join(merged.conflicts)}); "
                "name another patch with --into, or refresh the top patch; nothing changed"
            )
        parent = layers[li][pi - 1].commit if pi else bases[li]
        display = f"{ref.dir}/{name}"
        if (labels[li], name) in created:
            old_patch = created[(labels[li], name)]
        else:
            entry = next(e for e in s.entries(ref) if e.name == name)
            old_patch = read_patch(s.ws.patch_path(ref, name), display, entry.strip, s.ws.root)
        fresh = parse_diff(repo.diff_trees(repo.tree_of(parent), merged.tree), display)
        new_patch = replace(
            old_patch, files=keep_unchanged(repo, old_patch.files, fresh, repo.tree_of(cur), merged.tree)
        )
        new_commit = builder.commit(merged.tree, parent, new_patch)
        layers[li][pi] = AppliedPatch(name, new_commit)
        try:
            _replay_above(repo, builder, layers, bases, li, pi, cur, new_commit)
        except ConflictError as exc:
            raise ConflictError(f"{where} into {display}: {exc.message}") from None
        writes.append(PatchWrite(ref, name, display, new_patch, (labels[li], name) in created))

    new_state = StackState(
        state.backend,
        state.upstream,
        tuple(LayerState(ls.layer, bases[i], tuple(layers[i])) for i, ls in enumerate(state.layers)),
    )
    if repo.tree_of(new_state.head) != work_tree:
        raise ConflictError(
            "the edits cannot be moved into their patches cleanly (a patch above changes the same lines); "
            "name the top patch with --into, or refresh it; nothing changed"
        )
    touched = set(dirty) | set(repo.changed_paths(head_tree, repo.tree_of(new_state.head)))
    new_series = tuple(
        (LayerRef.from_label(s.backend.name, labels[li]), tuple(e)) for li, e in sorted(new_entries.items())
    )
    return AbsorbPlan(tuple(routes), tuple(writes), new_series, state, new_state, tuple(sorted(touched)))


def execute_absorb(s: Session, plan: AbsorbPlan) -> list[str]:
    """Write what the plan computed; returns the patch files whose bytes changed."""
    repo = s.repo
    changed: list[str] = []
    for w in plan.writes:
        if s.ws.put_patch(w.layer, w.name, format_patch(w.patch)):
            changed.append(w.display)
        crash_point("absorb:patch-file")
    for layer, entries in plan.series:
        s.ws.write_layer_series(layer, list(entries))
        crash_point("absorb:series")
    for layer in {w.layer for w in plan.writes if w.layer.vendor and w.display in changed}:
        record_base(s, layer)
    if plan.new_state != plan.old_state:
        s.commit(plan.new_state, reason="absorb", checkout=False)
    if repo.head() != plan.new_state.head:
        repo.set_head(plan.new_state.head)
    crash_point("absorb:head")
    if plan.touched:
        repo.reset_index(plan.new_state.head, list(plan.touched))
    return changed


def _resolve_into(s: Session, into: str, scope: str | None) -> tuple[str, str]:
    """``--into PATCH`` (any form ``refresh`` takes): an applied patch of the scope."""
    layer, entries, ls = s.applied_layer(scope, into)
    name = resolve_patch([e.name for e in entries], into, layer)
    if name not in ls.names():
        raise UsageError(f"--into {into}: {layer.dir}/{name} is not applied; push it first")
    if scope is not None and layer.label != scope:
        raise UsageError(f"--into {into}: {layer.dir}/{name} is not in layer {scope}")
    return layer.label, name


def _replay_above(
    repo: GitRepo,
    builder: Builder,
    layers: list[list[AppliedPatch]],
    bases: list[str],
    li: int,
    pi: int,
    prev_old: str,
    prev_new: str,
) -> None:
    """Replay, in place, every patch above (li, pi) from prev_old onto prev_new."""
    for j in range(pi + 1, len(layers[li])):
        layers[li][j], prev_old, prev_new = replay_commit(repo, builder, layers[li][j], prev_old, prev_new)
    for k in range(li + 1, len(layers)):
        bases[k] = prev_new
        for j in range(len(layers[k])):
            layers[k][j], prev_old, prev_new = replay_commit(repo, builder, layers[k][j], prev_old, prev_new)


_LINES = re.compile(rb"(?<=\n)")


def _lines(data: bytes) -> list[bytes]:
    """Lines with their ``\\n`` kept (the last one may lack it), numbered as libgit2 numbers them."""
    return [x for x in _LINES.split(data) if x]


def _with_hunks(repo: GitRepo, head_tree: str, work_tree: str, hunks: Sequence[EditHunk]) -> str:
    """The stack top with only these hunks of the checkout applied."""
    changes: dict[str, Entry | None] = {}
    by_path: dict[str, list[EditHunk]] = {}
    for h in hunks:
        by_path.setdefault(h.path, []).append(h)
    for path, hs in by_path.items():
        new = repo.entry(work_tree, path)
        if hs[0].kind != "text":
            changes[path] = new
            continue
        old = repo.entry(head_tree, path)
        assert old is not None and new is not None
        a, b = _lines(repo.read_blob(old.id)), _lines(repo.read_blob(new.id))
        out: list[bytes] = []
        i = 0
        for h in sorted(hs, key=lambda x: x.old_start):
            first = h.old_start - 1 if h.old_count else h.old_start
            out += a[i:first]
            out += b[h.new_start - 1 : h.new_start - 1 + h.new_count] if h.new_count else []
            i = first + h.old_count
        out += a[i:]
        changes[path] = Entry(repo.write_blob(b"".join(out)), old.mode)
    return repo.update_tree(head_tree, changes)
