"""``fspatch pop``: unapply the top patch(es) of the current layer."""

from __future__ import annotations

from dataclasses import dataclass, replace

from fspatch.core.session import Session, resolve_patch
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class PopResult:
    backend: str
    layer: str
    popped: tuple[str, ...]
    top: str | None


def run(
    ws: Workspace, backend: str, *, patch: str | None = None, all_: bool = False, vendor: str | None = None
) -> PopResult:
    """Pop one patch, all of them, or down to (keeping) PATCH as the top, like ``quilt pop PATCH``."""
    s = Session.open(ws, backend)
    s.require_head_at_stack()
    layer, entries, ls = s.applied_layer(vendor)
    s.require_top_layer(layer)
    names = ls.names()
    if not names:
        raise UsageError(f"no patches of {layer.dir} are applied")
    if all_:
        keep = 0
    elif patch is not None:
        name = resolve_patch([e.name for e in entries], patch, layer)
        if name not in names:
            raise UsageError(f"{name} is not applied")
        keep = names.index(name) + 1
        if keep == len(names):
            raise UsageError(f"{name} is already the top patch")
    else:
        keep = len(names) - 1
    new_layer = replace(ls, applied=ls.applied[:keep])
    assert s.state is not None
    state = s.state.with_layer(new_layer)
    popped = tuple(names[keep:])
    with s.transaction("pop"):
        s.commit(state, reason=f"pop {', '.join(popped)}")
    return PopResult(s.backend.name, layer.label, popped, names[keep - 1] if keep else None)
