"""Rewriting one layer of the stack: new order, new headers, combined patches — built, then done once.

Why one module: ``header``, ``fold``, ``float``/``sink`` and ``squash`` all say "this layer's
series and some of its patch files become X".  They share one path, StGit's transaction in
small: compute the new layer in memory (the unchanged prefix of applied commits is reused, the
rest is rebuilt with the stack builder, cost following the changed files), and only when every
applied patch of the new layer builds, journal and write the patch files and the series, then
move the checkout and the state ref once (``Session.commit``).  If anything does not apply,
nothing was written: the ConflictError names the patch and hunk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from fspatch.core.patch import FileDiff, Patch, format_patch, parse_diff
from fspatch.core.series import SeriesEntry
from fspatch.core.session import Session
from fspatch.core.stack import AppliedPatch, LayerState, PatchSource, apply_files
from fspatch.core.workspace import LayerRef
from fspatch.errors import ConflictError, HunkFailed, UsageError


@dataclass(frozen=True)
class LayerEdit:
    """The layer after the edit: its series, the patches whose content changes, what goes, how many apply."""

    entries: tuple[SeriesEntry, ...]
    patches: Mapping[str, Patch] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    applied: int = 0


@dataclass(frozen=True)
class EditOutcome:
    layer: LayerState | None
    written: tuple[str, ...]  # workspace files whose bytes changed (relative to the root)
    touched: tuple[str, ...]  # checkout paths written


def sources(
    s: Session, layer: LayerRef, entries: Sequence[SeriesEntry], patches: Mapping[str, Patch]
) -> list[PatchSource]:
    """The patches to build, new content where given, else read from their files."""
    out = []
    for e in entries:
        if e.name in patches:
            out.append(PatchSource(e.name, f"{layer.dir.as_posix()}/{e.name}", patches[e.name]))
        else:
            out.append(s.source(layer, e))
    return out


def build(s: Session, layer: LayerRef, ls: LayerState, edit: LayerEdit) -> LayerState:
    """The layer's new applied state, built in memory (ConflictError if a patch does not apply)."""
    wanted = list(edit.entries[: edit.applied])
    keep = 0
    for old, new in zip(ls.applied, wanted, strict=False):
        if old.name != new.name or new.name in edit.patches:
            break
        keep += 1
    base = ls.applied[keep - 1].commit if keep else ls.base
    built = s.builder().build(base, sources(s, layer, wanted[keep:], edit.patches))
    return replace(ls, applied=tuple(ls.applied[:keep]) + tuple(built))


def execute(s: Session, layer: LayerRef, ls: LayerState | None, edit: LayerEdit, operation: str) -> EditOutcome:
    """Build the edited layer, then write files, series, state and checkout in one journalled step."""
    new_layer = build(s, layer, ls, edit) if ls is not None else None
    if ls is None and edit.applied:
        raise UsageError(f"layer {layer.label} is not applied; run 'fspatch apply {s.backend.name}' first")
    ws = s.ws
    d = layer.dir.as_posix()
    data = {name: format_patch(p) for name, p in edit.patches.items()}
    changed = [n for n, b in data.items() if not _same(ws.patch_path(layer, n), b)]
    old_entries = s.entries(layer)
    series_changed = [e.name for e in old_entries] != [e.name for e in edit.entries]
    files = [f"{d}/{n}" for n in changed] + [f"{d}/{n}" for n in edit.removed]
    if series_changed:
        files.append(f"{d}/series")
    state_changes = new_layer is not None and ls is not None and new_layer != ls
    if not files and not state_changes:
        return EditOutcome(new_layer, (), ())
    touched: list[str] = []
    with s.transaction(operation, files=files):
        for name in changed:
            ws.write_patch(layer, name, data[name])
        if series_changed:
            ws.write_layer_series(layer, list(edit.entries))
        for name in edit.removed:
            ws.delete_patch(layer, name)
        if new_layer is not None and state_changes:
            assert s.state is not None
            touched = s.commit(s.state.with_layer(new_layer), reason=operation)
    return EditOutcome(new_layer, tuple(files), tuple(touched))


def _same(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def diff_between(s: Session, parent: str, tree: str, display: str) -> tuple[FileDiff, ...]:
    """The file diffs from ``parent`` (a commit) to ``tree`` (a tree id), as a patch file holds them."""
    repo = s.repo
    return parse_diff(repo.diff_trees(repo.tree_of(parent), tree), display)


def fold_files(s: Session, top_commit: str, files: Sequence[FileDiff], display: str) -> str:
    """The tree of ``top_commit`` with ``files`` applied (no fuzz); ConflictError naming ``display``."""
    try:
        return apply_files(s.repo, s.repo.tree_of(top_commit), files)
    except HunkFailed as exc:
        raise ConflictError(str(exc), path=display) from None
    except ConflictError as exc:
        raise ConflictError(exc.message, path=display) from None


__all__ = ["AppliedPatch", "EditOutcome", "LayerEdit", "build", "diff_between", "execute", "fold_files", "sources"]
