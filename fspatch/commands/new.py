"""``fspatch new``: a new, empty patch right above the current top of a layer."""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.journal import crash_point
from fspatch.core.names import bare, new_file_name
from fspatch.core.patch import Patch, format_patch
from fspatch.core.series import NUMBERED, SeriesEntry
from fspatch.core.session import Session
from fspatch.core.stack import AppliedPatch, LayerState
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class NewResult:
    backend: str
    layer: str
    patch: str
    path: str


def run(ws: Workspace, backend: str, name: str, *, message: str | None = None, vendor: str | None = None) -> NewResult:
    s = Session.open(ws, backend)
    state = s.require_state()
    s.require_head_at_stack()
    layer = s.current_layer(vendor)
    entries = s.entries(layer)
    ls = s.layer_state(layer)
    if ls is None:
        if layer.vendor is None:
            raise UsageError(f"the common layer of '{s.backend.name}' is not applied; run 'fspatch apply'")
        top_layer = state.layers[-1]
        common = ws.read_layer_series(s.layer_ref(None))
        if top_layer.layer != "common" or len(top_layer.applied) != len(common):
            raise UsageError(
                "a vendor layer goes on the whole common layer; "
                f"run 'fspatch apply {s.backend.name} --vendor {layer.vendor}'"
            )
        ls = LayerState(layer.label, top_layer.top, ())
    else:
        ls = s.check_applied_prefix(layer, entries)
        s.require_top_layer(layer)
    file_name = new_file_name(name, [e.name for e in entries], len(ls.applied))
    path = ws.patch_path(layer, file_name)
    if file_name in [e.name for e in entries] or path.exists():
        raise UsageError(f"patch {layer.dir}/{file_name} already exists")
    # The name given to new is how the patch is named back (push NAME, delete NAME): a second
    # patch with the same name would make that name mean the other one, or be ambiguous.
    same = [e.name for e in entries if bare(e.name) == bare(file_name)]
    if same:
        raise UsageError(
            f"patch {layer.dir}/{same[0]} is already named '{bare(file_name)}'; choose another name for the new patch"
        )
    author_name, email = s.repo.identity()
    subject = message or NUMBERED.sub("", file_name).removesuffix(".patch")
    patch = Patch(author=f"{author_name} <{email}>", subject=subject)
    commit = s.builder().commit(s.repo.tree_of(ls.top), ls.top, patch)
    entries.insert(len(ls.applied), SeriesEntry(file_name))
    new_layer = LayerState(ls.layer, ls.base, ls.applied + (AppliedPatch(file_name, commit),))
    with s.transaction("new", files=[f"{layer.dir}/{file_name}", f"{layer.dir}/series"]):
        ws.put_patch(layer, file_name, format_patch(patch))
        crash_point("new:patch-file")
        ws.write_layer_series(layer, entries)
        crash_point("new:series")
        s.commit(state.with_layer(new_layer), reason=f"new {file_name}")
    return NewResult(s.backend.name, layer.label, file_name, f"{layer.dir}/{file_name}")
