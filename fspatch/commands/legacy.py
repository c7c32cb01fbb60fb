"""FlagScale's familiar entry points, mapped onto fspatch verbs (non-interactive).

``unpatch --backend B [--device-type X --task T] [--commit SHA]``
    = ``apply B [--vendor V --task T] [--at SHA]``: check out upstream + common (+ the layer of
    the vendor whose vendor.yaml has device_type X), the way FlagScale's unpatch produced the
    patched backend source.
``patch --backend B [--device-type X --task T] [--commit SHA]``
    = ``refresh -b B [--vendor V]`` (capture the checkout's edits into the layer's top patch),
    then, for a vendor, ``export B --vendor V`` (diff.patch + diff.yaml, as FlagScale's patch
    wrote them).  ``--commit`` must be the workspace HEAD: diff.yaml records the commit the layer
    is exported from, and fspatch does not write another.
"""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.apply import apply_layers
from fspatch.core.export import workspace_repo
from fspatch.core.publish import export_layers
from fspatch.core.refresh import execute_refresh, plan_refresh
from fspatch.core.session import Session
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class LegacyResult:
    verb: str
    backend: str
    vendor: str | None
    mapped_to: str  # the fspatch command line this ran as
    detail: str


def vendor_for_device(ws: Workspace, device_type: str) -> str:
    """The one vendor whose vendor.yaml names this device type (case-insensitive)."""
    hits = [v for v in ws.vendors() if str(ws.vendor_info(v)["device_type"]).lower() == device_type.lower()]
    if not hits:
        known = ", ".join(str(ws.vendor_info(v)["device_type"]) for v in ws.vendors()) or "none"
        raise UsageError(f"no vendor has device type {device_type!r} (known: {known})")
    if len(hits) > 1:
        raise UsageError(f"several vendors have device type {device_type!r} ({', '.join(hits)}); use --vendor")
    return hits[0]


def run_unpatch(
    ws: Workspace, backend: str, *, device_type: str | None = None, task: str | None = None, commit: str | None = None
) -> LegacyResult:
    if task is not None and device_type is None:
        raise UsageError("--task needs --device-type (tasks belong to vendor layers)")
    vendor = vendor_for_device(ws, device_type) if device_type is not None else None
    r = apply_layers(ws, backend, vendor=vendor, task=task, at=commit)
    line = (
        f"fspatch apply {r.backend}" + (f" --vendor {vendor}" if vendor else "") + (f" --task {task}" if task else "")
    )
    line += f" --at {commit}" if commit else ""
    return LegacyResult("unpatch", r.backend, vendor, line, f"checked out {r.head[:12]}")


def run_patch(
    ws: Workspace, backend: str, *, device_type: str | None = None, task: str | None = None, commit: str | None = None
) -> LegacyResult:
    vendor = vendor_for_device(ws, device_type) if device_type is not None else None
    if commit is not None:
        head = workspace_repo(ws).head() or ""
        if not head.startswith(commit.lower()) or len(commit) < 7:
            raise UsageError(f"--commit {commit} is not the workspace HEAD ({head[:12]}); check it out first")
    if task is not None:
        if vendor is None:
            raise UsageError("--task needs --device-type (tasks belong to vendor layers)")
        from fspatch.core.export import FilesReader, check_task
        from fspatch.core.workspace import LayerRef

        check_task(FilesReader(ws), LayerRef(ws.backend(backend).name, vendor), task)
    name = ws.backend(backend).name
    s = Session.open(ws, name)
    plan = plan_refresh(s, vendor=vendor)
    with s.transaction("refresh", files=plan.files):
        file_changed = execute_refresh(s, plan)
    line = f"fspatch refresh -b {name}" + (f" --vendor {vendor}" if vendor else "")
    detail = f"{plan.display} {'refreshed' if file_changed else 'unchanged'}"
    if vendor is not None:
        er = export_layers(ws, name, vendor=vendor)
        line += f" && fspatch export {name} --vendor {vendor}"
        detail += "; " + ", ".join(x.patch_path for x in er.layers)
    return LegacyResult("patch", name, vendor, line, detail)
