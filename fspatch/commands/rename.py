"""``fspatch rename``: rename a patch file and its series entry (applied or not)."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, replace

from fspatch.core.journal import crash_point
from fspatch.core.lookup import layer_of
from fspatch.core.names import bare
from fspatch.core.series import SeriesEntry, patch_file_name
from fspatch.core.session import Session, resolve_patch
from fspatch.core.stack import AppliedPatch
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import UsageError
from fspatch.git_adapter import GitRepo


@dataclass(frozen=True)
class RenameResult:
    backend: str
    layer: str
    old: str
    new: str


def run(ws: Workspace, backend: str, old: str, new: str, *, vendor: str | None = None) -> RenameResult:
    b = ws.backend(backend)
    layer = layer_of(ws, b.name, vendor) or LayerRef(b.name, None)
    s = Session.open(ws, backend, fetch=False) if GitRepo.is_repo(ws.checkout_path(b)) else None
    if s is not None:
        layer = s.current_layer(vendor, old)
    entries = ws.read_layer_series(layer)
    names = [e.name for e in entries]
    old_name = resolve_patch(names, old, layer)
    new_name = new if new.endswith(".patch") else new + ".patch"
    new_name = patch_file_name(new_name, [n for n in names if n != old_name])
    if "/" in new_name or new_name in names or ws.patch_path(layer, new_name).exists():
        raise UsageError(f"cannot rename to {new_name}: it exists or is not a plain file name")
    same = [n for n in names if n != old_name and bare(n) == bare(new_name)]
    if same:  # as for new: the name must name this patch back, not another one
        raise UsageError(f"cannot rename to {new_name}: {layer.dir}/{same[0]} is already named '{bare(new_name)}'")
    files = [f"{layer.dir}/series", f"{layer.dir}/{old_name}", f"{layer.dir}/{new_name}"]
    with s.transaction("rename", files=files) if s is not None else nullcontext():
        ws.rename_patch(layer, old_name, new_name)
        crash_point("rename:file")
        ws.write_layer_series(layer, [SeriesEntry(new_name, e.strip) if e.name == old_name else e for e in entries])
        crash_point("rename:series")
        if s is not None and s.state is not None:
            ls = s.layer_state(layer)
            if ls is not None and old_name in ls.names():
                applied = tuple(AppliedPatch(new_name, p.commit) if p.name == old_name else p for p in ls.applied)
                layers = tuple(replace(x, applied=applied) if x.layer == ls.layer else x for x in s.state.layers)
                s.commit(replace(s.state, layers=layers), reason=f"rename {old_name} {new_name}", checkout=False)
    return RenameResult(b.name, layer.label, old_name, new_name)
