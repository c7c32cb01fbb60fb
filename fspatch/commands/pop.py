"""``fspatch pop``: unapply the top patch(es) of the current layer."""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.session import Session
from fspatch.core.workspace import Workspace


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
    layer, entries, ls = s.applied_layer(vendor, patch)
    s.require_top_layer(layer)
    motion = s.pop_motion(layer, entries, ls, patch=patch, all_=all_)
    with s.transaction("pop"):
        s.commit(motion.state, reason=f"pop {', '.join(motion.popped)}")
    return PopResult(s.backend.name, layer.label, motion.popped, motion.top)
