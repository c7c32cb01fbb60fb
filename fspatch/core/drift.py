"""Drift: how a checkout's applied stack differs from the workspace files that should build it.

Why a module of its own: the stack state (``refs/fspatch/state``) records what was built, the
lock and the series say what should be; after a ``git pull`` of the workspace, a bot's bump or
an edit by hand they disagree, and ``status`` must say so instead of counting names
(``4/3 applied``).  Stack commits are deterministic (same patch on the same parent, same commit:
``core/stack.py``), so "edited since applied" is exact: the patch file is built again on its
recorded parent and compared with the recorded commit, in memory, nothing checked out.
"""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.session import read_patch
from fspatch.core.stack import Builder, LayerState, PatchSource
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import FspatchError
from fspatch.git_adapter import GitRepo

NEW = "new"  # in the series, not applied, yet below an applied patch
REMOVED = "removed"  # applied, no longer in the series
MOVED = "moved"  # applied, and the series now lists it at another place among the applied ones
EDITED = "edited"  # applied, and its file no longer builds the applied commit
UNAPPLIED = "unapplied"  # after the top of the layer: not pushed yet (an ordinary quilt state)


@dataclass(frozen=True)
class SeriesChange:
    """One patch whose series entry or file differs from what the checkout's stack holds."""

    layer: str  # common | vendor/<name>
    patch: str
    change: str  # new | removed | moved | edited | unapplied
    detail: str = ""  # why an edited patch counts as edited when it no longer builds


def layer_changes(
    ws: Workspace, repo: GitRepo, builder: Builder | None, ls: LayerState, layer: LayerRef
) -> list[SeriesChange]:
    """The differences of one applied layer from its series, in series order (removed ones last);
    edits are looked for only with a ``builder`` (one on the upstream the stack was built on).

    A series that cannot be read is reported by ``fspatch check``; here it yields nothing.
    """
    try:
        entries = ws.read_layer_series(layer)
    except FspatchError:
        return []
    listed = [e.name for e in entries]
    applied = ls.names()
    out: list[SeriesChange] = []
    kept = [n for n in applied if n in listed]
    last = max((listed.index(n) for n in kept), default=-1)
    moved = _moved(kept, {n: listed.index(n) for n in kept})
    commits = {p.name: p.commit for p in ls.applied}
    parents = {p.name: (ls.applied[i - 1].commit if i else ls.base) for i, p in enumerate(ls.applied)}
    # Rebuilt objects exist already: in memory each is a look-up, not a temporary file (~0.2 ms).
    with repo.objects_in_memory():
        for i, entry in enumerate(entries):
            name = entry.name
            if name not in commits:
                out.append(SeriesChange(ls.layer, name, NEW if i < last else UNAPPLIED))
                continue
            if name in moved:
                out.append(SeriesChange(ls.layer, name, MOVED))
                continue
            if builder is None:
                continue
            why = _edited(ws, repo, builder, layer, entry.name, entry.strip, parents[name], commits[name])
            if why is not None:
                out.append(SeriesChange(ls.layer, name, EDITED, why))
    out.extend(SeriesChange(ls.layer, n, REMOVED) for n in applied if n not in listed)
    return out


def _moved(applied: list[str], position: dict[str, int]) -> set[str]:
    """The fewest applied patches whose moves explain the new order: those off a longest run of
    patches whose series positions still increase (swapping 0001 and 0003 moves two, not three)."""
    n = len(applied)
    best = [1] * n
    prev = [-1] * n
    for i in range(n):
        for j in range(i):
            if position[applied[j]] < position[applied[i]] and best[j] + 1 > best[i]:
                best[i], prev[i] = best[j] + 1, j
    keep: set[str] = set()
    i = max(range(n), key=lambda k: best[k], default=-1)
    while i >= 0:
        keep.add(applied[i])
        i = prev[i]
    return set(applied) - keep


def _edited(
    ws: Workspace, repo: GitRepo, builder: Builder, layer: LayerRef, name: str, strip: int, parent: str, commit: str
) -> str | None:
    """None when the patch file builds exactly the applied commit on its applied parent, else why not."""
    if name.endswith(".encrypted"):
        return None  # no key here: what it builds cannot be known, so it is not called edited
    path = ws.patch_path(layer, name)
    display = f"{layer.dir.as_posix()}/{name}"
    if not path.is_file():
        return "the file is missing"
    try:
        src = PatchSource(name, display, read_patch(path, display, strip, ws.root))
        rebuilt = builder.apply(parent, src)
    except FspatchError as exc:
        return f"it no longer applies where it was applied: {exc.message}"
    return None if rebuilt == commit else ""


def describe(changes: list[SeriesChange]) -> str:
    """``0004-x.patch new, 0002-y.patch edited``: the changes that need a rebuild (not unapplied ones)."""
    return ", ".join(f"{c.patch} {c.change}" for c in changes if c.change != UNAPPLIED)


def needs_rebuild(changes: list[SeriesChange]) -> bool:
    return any(c.change != UNAPPLIED for c in changes)


def ref_names(repo: GitRepo, commit: str) -> list[str]:
    """Tags and fetched upstream branches that point at ``commit`` (how a person names a pin)."""
    out = []
    for prefix in ("refs/tags/", "refs/fspatch/upstream/"):
        for name in sorted(repo.refs(prefix)):
            if repo.resolve(name) == commit:
                out.append(name.removeprefix(prefix))
    return out
