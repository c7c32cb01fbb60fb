"""``fspatch diff``: what a patch changes; for the top patch, including unrefreshed edits."""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.patch import format_diff, parse_diff
from fspatch.core.session import Session, read_patch, resolve_patch
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class DiffResult:
    backend: str
    layer: str
    patch: str
    text: bytes
    resolved: tuple[str, ...] = ()  # the patch's Fspatch-Resolved trailers: regions a rule resolved last replay


def run(ws: Workspace, backend: str, *, patch: str | None = None, vendor: str | None = None) -> DiffResult:
    s = Session.open(ws, backend, fetch=False)
    layer = s.current_layer(vendor, patch)
    entries = s.entries(layer)
    ls = s.layer_state(layer)
    applied = ls.names() if ls is not None else []
    if patch is None:
        if ls is None or not applied:
            raise UsageError(f"no applied patch in {layer.dir}; name one: 'fspatch diff PATCH'")
        name = applied[-1]
    else:
        name = resolve_patch([e.name for e in entries], patch, layer)
    display = f"{layer.dir}/{name}"
    entry = next(e for e in entries if e.name == name)
    header = read_patch(ws.patch_path(layer, name), display, entry.strip)
    resolved = tuple(v for k, v in header.trailers if k == "Fspatch-Resolved")
    if name not in applied:
        return DiffResult(s.backend.name, layer.label, name, format_diff(header.files), resolved)
    assert ls is not None
    i = applied.index(name)
    parent = ls.applied[i - 1].commit if i else ls.base
    repo = s.repo
    if patch is None and s.state is not None and s.state.layers[-1].layer == layer.label:
        new_tree = repo.snapshot_worktree()  # the top patch plus what refresh would add
    else:
        new_tree = repo.tree_of(ls.applied[i].commit)
    raw = repo.diff_trees(repo.tree_of(parent), new_tree)
    return DiffResult(s.backend.name, layer.label, name, format_diff(parse_diff(raw, display)), resolved)
