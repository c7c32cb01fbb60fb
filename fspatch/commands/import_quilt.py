"""``fspatch import quilt DIR``: insert a quilt series (``patches/`` or Debian ``debian/patches``) into a layer.

Each patch is read with its series ``-pN``, stored in canonical form with its mail and DEP-3
headers kept (the rule is in :mod:`fspatch.core.interop`), and inserted after the layer's top
applied patch, as ``quilt import`` does (``append``: at the end of the series), named
``NNNN-<quilt name>.patch`` with a number that keeps the series in order (``--keep-names``: the
quilt name verbatim).  With the backend's checkout at hand the new patches must apply there (no
fuzz, as always) or nothing is written; ``--no-check`` stores them anyway, to fix with push/refresh.
"""

from __future__ import annotations

from pathlib import Path

from fspatch.core.interop import LayerImport, add_to_layer, quilt_sources
from fspatch.core.session import pick_backend
from fspatch.core.workspace import LayerRef, Workspace


def run(
    ws: Workspace, path: Path, *, backend: str | None = None, vendor: str | None = None,
    keep_names: bool = False, check: bool = True, append: bool = False,
) -> LayerImport:
    layer = LayerRef(pick_backend(ws, backend), vendor)
    return add_to_layer(ws, layer, quilt_sources(path), keep_names=keep_names, check=check, append=append)
