"""``fspatch delete``: remove a patch from its series (and its file, unless --keep)."""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.journal import crash_point
from fspatch.core.lookup import layer_of
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


def run(
    ws: Workspace, backend: str, patch: str | None, *, vendor: str | None = None, keep_file: bool = False
) -> DeleteResult:
    """Delete ``patch``, or the top patch of the working layer when None (as ``quilt delete``)."""
    b = ws.backend(backend)
    layer = layer_of(ws, b.name, vendor) or LayerRef(b.name, None)
    popped = False
    if not GitRepo.is_repo(ws.checkout_path(b)):
        if patch is None:
            raise UsageError(f"no checkout of {b.name}, so no top patch: name the patch, 'fspatch delete PATCH'")
        name, removed = _drop(ws, layer, patch, keep_file)
        return DeleteResult(b.name, layer.label, name, popped, removed)
    s = Session.open(ws, backend, fetch=False)
    layer = s.current_layer(vendor, patch)
    entries = s.entries(layer)
    ls = s.layer_state(layer)
    if patch is None:
        if ls is None or not ls.names():
            raise UsageError(f"no patches of {layer.dir.as_posix()} are applied; name one: 'fspatch delete PATCH'")
        patch = ls.names()[-1]
    name = resolve_patch([e.name for e in entries], patch, layer)
    with s.transaction("delete", files=[f"{layer.dir}/series", f"{layer.dir}/{name}"]):
        if ls is not None and name in ls.names():
            if ls.names()[-1] != name:
                raise UsageError(f"{name} is applied below other patches; pop down to it first")
            s.require_head_at_stack()
            s.require_top_layer(layer)
            _, pop_entries, pop_ls = s.applied_layer(layer.vendor)
            motion = s.pop_motion(layer, pop_entries, pop_ls, patch=None, all_=False)
            s.commit(motion.state, reason=f"pop {', '.join(motion.popped)}")
            popped = True
        name, removed = _drop(ws, layer, patch, keep_file)
    return DeleteResult(b.name, layer.label, name, popped, removed)


def _drop(ws: Workspace, layer: LayerRef, patch: str, keep_file: bool) -> tuple[str, bool]:
    """Take the patch out of the series, then remove its file (unless kept)."""
    entries = ws.read_layer_series(layer)
    name = resolve_patch([e.name for e in entries], patch, layer)
    ws.write_layer_series(layer, [e for e in entries if e.name != name])
    crash_point("delete:series")
    if not keep_file and ws.patch_path(layer, name).exists():
        ws.delete_patch(layer, name)
        return name, True
    return name, False
