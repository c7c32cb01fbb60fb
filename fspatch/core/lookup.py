"""Which layer and which patch a verb's PATCH and ``--layer`` mean, for one open backend.

The rules are :mod:`fspatch.core.names`'s (pure, on lists of names); this module feeds them the
backend's real layers: the common layer first, then every vendor layer of the backend.  The
layer option takes ``common``, a vendor name or ``vendor/NAME`` (``--vendor`` is its other
spelling, so ``--vendor common`` means the common layer too).
"""

from __future__ import annotations

from fspatch.core.names import COMMON, LayerNames, resolve
from fspatch.core.session import Session
from fspatch.core.workspace import LayerRef, Workspace


def layer_of(ws: Workspace, backend: str, option: str | None) -> LayerRef | None:
    """The layer a ``--layer``/``--vendor`` value names (None when not given); unknown vendors are errors."""
    if option is None:
        return None
    value = option.strip()
    if value in (COMMON, "series"):
        return LayerRef(backend, None)
    value = value.removeprefix("vendor/").removeprefix("vendors/")
    ws.vendor_info(value)  # unknown vendor: a clear error listing the known ones
    return LayerRef(backend, value)


def working_layer(s: Session, option: str | None) -> LayerRef:
    """The layer a stack verb works on: the one named, else the top applied layer."""
    named = layer_of(s.ws, s.backend.name, option)
    if named is not None:
        return named
    return s.current_layer(None)


def all_layers(ws: Workspace, backend: str) -> list[LayerRef]:
    """The backend's common layer and every vendor layer it has, common first."""
    return [LayerRef(backend, None), *ws.vendor_layers(backend)]


def layer_names(ws: Workspace, layers: list[LayerRef]) -> list[LayerNames]:
    out = []
    for layer in layers:
        names = tuple(e.name for e in ws.read_layer_series(layer))
        out.append(LayerNames(layer.vendor, layer.dir.as_posix(), names))
    return out


def find_patch(s: Session, query: str, option: str | None) -> tuple[LayerRef, str]:
    """(layer, file name) of PATCH: in the named layer, else the working layer, else another one."""
    backend = s.backend.name
    named = layer_of(s.ws, backend, option)
    current = named or s.current_layer(None)
    layers = [named] if named is not None else all_layers(s.ws, backend)
    if current not in layers:
        layers.insert(0, current)
    vendor, name = resolve(layer_names(s.ws, layers), query, current.vendor, backend)
    return LayerRef(backend, vendor), name


__all__ = ["all_layers", "find_patch", "layer_names", "layer_of", "working_layer"]
