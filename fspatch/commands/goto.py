"""``fspatch goto``: push or pop until PATCH is the top of its layer."""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.session import Session
from fspatch.core.workspace import Workspace


@dataclass(frozen=True)
class GotoResult:
    backend: str
    layer: str
    pushed: tuple[str, ...]
    popped: tuple[str, ...]
    top: str


def run(ws: Workspace, backend: str, patch: str, *, vendor: str | None = None) -> GotoResult:
    s = Session.open(ws, backend)
    layer, entries, ls = s.applied_layer(vendor, patch)
    motion = s.goto_motion(layer, entries, ls, patch)
    s.require_head_at_stack()
    s.require_top_layer(layer)
    verb = "push" if motion.pushed else "pop"
    with s.transaction("goto"):
        s.commit(motion.state, reason=f"{verb} {', '.join(motion.pushed or motion.popped)}")
    assert motion.top is not None
    return GotoResult(s.backend.name, layer.label, motion.pushed, motion.popped, motion.top)
