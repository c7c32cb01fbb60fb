"""``fspatch push``: apply the next unapplied patch(es) of the current layer."""

from __future__ import annotations

from dataclasses import dataclass, replace

from fspatch.core.session import Session, resolve_patch
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class PushResult:
    backend: str
    layer: str
    pushed: tuple[str, ...]
    top: str | None


def run(
    ws: Workspace, backend: str, *, patch: str | None = None, all_: bool = False, vendor: str | None = None
) -> PushResult:
    s = Session.open(ws, backend)
    s.require_head_at_stack()
    layer, entries, ls = s.applied_layer(vendor)
    s.require_top_layer(layer)
    pending = entries[len(ls.applied) :]
    if not pending:
        raise UsageError(f"all patches of {layer.dir} are applied")
    if patch is not None:
        name = resolve_patch([e.name for e in entries], patch, layer)
        if name in ls.names():
            raise UsageError(f"{name} is already applied")
        pending = pending[: [e.name for e in pending].index(name) + 1]
    elif not all_:
        pending = pending[:1]
    applied = s.builder().build(ls.top, [s.source(layer, e) for e in pending])
    new_layer = replace(ls, applied=ls.applied + tuple(applied))
    assert s.state is not None
    with s.transaction("push"):
        s.commit(s.state.with_layer(new_layer), reason=f"push {', '.join(e.name for e in pending)}")
    return PushResult(s.backend.name, layer.label, tuple(e.name for e in pending), applied[-1].name)
