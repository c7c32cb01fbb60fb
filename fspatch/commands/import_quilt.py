"""``fspatch import quilt DIR``: append a quilt series (``patches/`` or Debian ``debian/patches``) to a layer.

Each patch is read with its series ``-pN``, stored in canonical form with its mail and DEP-3
headers kept (the rule is in :mod:`fspatch.core.interop`), named ``NNNN-<quilt name>.patch`` after
the layer's highest number (``--keep-names``: the quilt name verbatim), and appended to the layer's
series.  With the backend's checkout at hand the new patches must apply on the layer's top (no
fuzz, as always) or nothing is written; ``--no-check`` stores them anyway, to fix with push/refresh.
"""

from __future__ import annotations

from pathlib import Path

from fspatch.core.interop import LayerImport, append_to_layer, quilt_sources
from fspatch.core.session import pick_backend
from fspatch.core.workspace import LayerRef, Workspace


def run(
    ws: Workspace, path: Path, *, backend: str | None = None, vendor: str | None = None,
    keep_names: bool = False, check: bool = True,
) -> LayerImport:
    layer = LayerRef(pick_backend(ws, backend), vendor)
    return append_to_layer(ws, layer, quilt_sources(path), keep_names=keep_names, check=check)
