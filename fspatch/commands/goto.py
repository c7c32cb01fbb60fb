"""``fspatch goto``: push or pop until PATCH is the top of its layer."""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.commands import pop, push
from fspatch.core.session import Session, resolve_patch
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class GotoResult:
    backend: str
    layer: str
    pushed: tuple[str, ...]
    popped: tuple[str, ...]
    top: str


def run(ws: Workspace, backend: str, patch: str, *, vendor: str | None = None) -> GotoResult:
    s = Session.open(ws, backend)
    layer, entries, ls = s.applied_layer(vendor)
    name = resolve_patch([e.name for e in entries], patch, layer)
    names = ls.names()
    if names and names[-1] == name:
        raise UsageError(f"{name} is already the top patch")
    if name in names:
        r = pop.run(ws, backend, patch=name, vendor=layer.vendor)
        return GotoResult(r.backend, r.layer, (), r.popped, name)
    p = push.run(ws, backend, patch=name, vendor=layer.vendor)
    return GotoResult(p.backend, p.layer, p.pushed, (), name)
