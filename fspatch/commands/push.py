"""``fspatch push``: apply the next unapplied patch(es) of the current layer."""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.session import Session
from fspatch.core.workspace import Workspace


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
    motion = s.push_motion(layer, entries, ls, patch=patch, all_=all_)
    with s.transaction("push"):
        s.commit(motion.state, reason=f"push {', '.join(motion.pushed)}")
    return PushResult(s.backend.name, layer.label, motion.pushed, motion.top)
