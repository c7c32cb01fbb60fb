"""``fspatch vendor add|layer|list``: declare vendors and their per-backend layers.

A vendor is ``vendors/<name>/vendor.yaml`` (name, device_type, contact, description); a vendor
layer is ``vendors/<name>/<backend>/`` with a quilt ``series`` (empty at first) and
``layer.yaml``: the tasks and models it is for and the base it was last refreshed on (the
backend's upstream commit and the common layer's fingerprint).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fspatch.core.journal import crash_point
from fspatch.core.layers import common_fingerprint
from fspatch.core.undo import workspace_transaction
from fspatch.core.workspace import TASKS, LayerRef, Workspace, valid_vendor
from fspatch.errors import UsageError


@dataclass(frozen=True)
class VendorAddResult:
    vendor: str
    path: str
    created: bool


@dataclass(frozen=True)
class LayerResult:
    vendor: str
    backend: str
    path: str
    tasks: tuple[str, ...]
    models: tuple[str, ...]
    created: bool


@dataclass(frozen=True)
class VendorEntry:
    vendor: str
    device_type: str
    contact: str | None
    backends: tuple[str, ...]


@dataclass(frozen=True)
class VendorListResult:
    vendors: tuple[VendorEntry, ...]


def run_add(
    ws: Workspace,
    name: str,
    *,
    device_type: str | None = None,
    contact: str | None = None,
    description: str | None = None,
) -> VendorAddResult:
    """Create (or update the given fields of) ``vendors/<name>/vendor.yaml``."""
    if not valid_vendor(name):
        raise UsageError(f"bad vendor name {name!r} (letters, digits, '_' and '-', starting with a letter or digit)")
    if name == "common":
        raise UsageError("'common' names the common layer (--layer common); pick another vendor name")
    exists = name in ws.vendors()
    if not exists and device_type is None:
        raise UsageError(f"vendor '{name}' is new: give its --device-type (e.g. --device-type Cambricon_MLU)")
    data: Any = ws.vendor_info(name) if exists else {"name": name}
    if device_type is not None:
        data["device_type"] = device_type
    if contact is not None:
        data["contact"] = contact
    if description is not None:
        data["description"] = description
    # A full disk or a kill leaves no half-made vendor (journalled; vendors/ itself if it is new).
    folder = f"vendors/{name}" if (ws.root / "vendors").is_dir() else "vendors"
    with workspace_transaction("vendor-add", ws.root, dirs=[folder]):
        ws.save_vendor_info(name, data)
        crash_point("vendor-add:file")
    return VendorAddResult(name, f"vendors/{name}/vendor.yaml", not exists)


def run_layer(
    ws: Workspace,
    vendor: str,
    backend: str,
    *,
    tasks: tuple[str, ...] = (),
    models: tuple[str, ...] | None = None,
) -> LayerResult:
    """Create a vendor layer for a backend (or set its tasks/models); the base is recorded on creation."""
    ws.vendor_info(vendor)
    b = ws.backend(backend)
    layer = LayerRef(b.name, vendor)
    created = not ws.layer_dir(layer).is_dir()
    meta: Any = ws.layer_meta(layer) or {}
    for t in tasks:
        if t not in TASKS:
            raise UsageError(f"unknown task {t!r} (one of {', '.join(TASKS)})")
    if tasks:
        meta["tasks"] = [t for t in TASKS if t in tasks]
    elif "tasks" not in meta:
        raise UsageError("a new vendor layer needs at least one --task (train, inference, post_train)")
    if models is not None:
        meta["models"] = list(dict.fromkeys(models))
    elif "models" not in meta:
        meta["models"] = []
    if created or "base" not in meta:
        meta["base"] = {"upstream_commit": b.commit, "common_fingerprint": common_fingerprint(ws, b.name)}
    with workspace_transaction("vendor-layer", ws.root, dirs=[layer.dir.as_posix()]):
        ws.ensure_layer_dir(layer)
        crash_point("vendor-layer:dir")
        ws.save_layer_meta(layer, meta)
        crash_point("vendor-layer:meta")
    return LayerResult(
        vendor, b.name, layer.dir.as_posix(), tuple(meta["tasks"]), tuple(str(m) for m in meta["models"]), created
    )


def run_list(ws: Workspace) -> VendorListResult:
    out = []
    for v in ws.vendors():
        info = ws.vendor_info(v)
        backends = tuple(name for name in ws.backends() if ws.layer_dir(LayerRef(name, v)).is_dir())
        contact = info.get("contact")
        out.append(VendorEntry(v, str(info["device_type"]), None if contact is None else str(contact), backends))
    return VendorListResult(tuple(out))
