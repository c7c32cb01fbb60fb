"""``fspatch delete``: remove a patch from its series (and its file, unless --keep)."""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.commands import pop
from fspatch.core.session import Session, resolve_patch
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import UsageError
from fspatch.git_adapter import GitRepo


@dataclass(frozen=True)
class DeleteResult:
    backend: str
    layer: str
    patch: str
    popped: bool
    file_removed: bool


def run(ws: Workspace, backend: str, patch: str, *, vendor: str | None = None, keep_file: bool = False) -> DeleteResult:
    b = ws.backend(backend)
    layer = LayerRef(b.name, vendor)
    if vendor is not None:
        ws.vendor_info(vendor)
    popped = False
    if GitRepo.is_repo(ws.checkout_path(b)):
        s = Session.open(ws, backend, fetch=False)
        layer = s.current_layer(vendor)
        entries = s.entries(layer)
        name = resolve_patch([e.name for e in entries], patch, layer)
        ls = s.layer_state(layer)
        if ls is not None and name in ls.names():
            if ls.names()[-1] != name:
                raise UsageError(f"{name} is applied below other patches; pop down to it first")
            pop.run(ws, backend, vendor=layer.vendor)
            popped = True
    entries = ws.read_layer_series(layer)
    name = resolve_patch([e.name for e in entries], patch, layer)
    ws.write_layer_series(layer, [e for e in entries if e.name != name])
    path = ws.patch_path(layer, name)
    removed = False
    if not keep_file and path.exists():
        path.unlink()
        removed = True
    return DeleteResult(b.name, layer.label, name, popped, removed)
