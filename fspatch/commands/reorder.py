"""``fspatch float`` / ``fspatch sink``: move a patch within its layer (``stg float``/``stg sink``).

``float PATCH`` makes PATCH the top of the layer's applied patches (pushing it if it was not
applied); ``sink PATCH`` moves it to the bottom of the layer, ``sink PATCH --to TARGET`` just
below TARGET (applied when it lands below an applied patch, as StGit does).  File names keep
their numbers: a patch's name is its identity (review, blame and history name it), the series
file is the order.  The new stack is built in memory; if a patch no longer applies in the new
order, nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.lookup import find_patch
from fspatch.core.restack import LayerEdit, execute
from fspatch.core.session import Session
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class ReorderResult:
    backend: str
    layer: str
    dir: str
    patch: str
    below: str | None  # the patch it now sits below (sink --to), else None
    where: str  # "top" or "bottom" or "below"
    order: tuple[str, ...]
    applied: int


def run_float(ws: Workspace, backend: str, patch: str, *, layer: str | None = None) -> ReorderResult:
    return _move(ws, backend, patch, layer, where="top", target=None)


def run_sink(
    ws: Workspace, backend: str, patch: str, *, to: str | None = None, layer: str | None = None
) -> ReorderResult:
    return _move(ws, backend, patch, layer, where="below" if to else "bottom", target=to)


def _move(
    ws: Workspace, backend: str, patch: str, layer: str | None, *, where: str, target: str | None
) -> ReorderResult:
    s = Session.open(ws, backend)
    ref, name = find_patch(s, patch, layer)
    entries = s.entries(ref)
    ls = s.layer_state(ref)
    if ls is not None:
        ls = s.check_applied_prefix(ref, entries)
    names = [e.name for e in entries]
    applied = len(ls.applied) if ls is not None else 0
    was_applied = names.index(name) < applied
    moving = entries[names.index(name)]
    rest = [e for e in entries if e.name != name]
    left = applied - (1 if was_applied else 0)  # applied patches once PATCH is taken out
    below: str | None = None
    if where == "top":
        pos, now_applied = left, True
    elif where == "bottom":
        pos = 0
        now_applied = was_applied or left > 0
    else:
        assert target is not None
        t_ref, t_name = find_patch(s, target, ref.vendor or "common")
        if t_name == name:
            raise UsageError(f"cannot sink {name} below itself")
        pos = [e.name for e in rest].index(t_name)
        below = t_name
        now_applied = pos < left or (pos == left and was_applied)
    new_entries = (*rest[:pos], moving, *rest[pos:])
    new_applied = left + (1 if now_applied else 0)
    if new_applied and ls is None:
        raise UsageError(f"layer {ref.label} is not applied; run 'fspatch apply {s.backend.name}' first")
    if new_applied or applied:
        s.require_head_at_stack()
        s.require_top_layer(ref)
    if [e.name for e in new_entries] == names and new_applied == applied:
        order = tuple(names)
    else:
        execute(
            s,
            ref,
            ls,
            LayerEdit(tuple(new_entries), {}, (), new_applied),
            f"{'float' if where == 'top' else 'sink'} {name}",
        )
        order = tuple(e.name for e in new_entries)
    return ReorderResult(s.backend.name, ref.label, ref.dir.as_posix(), name, below, where, order, new_applied)
