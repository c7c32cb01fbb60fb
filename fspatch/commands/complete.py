"""Names for shell completion: patches, backends, vendors, layers of the workspace at hand.

Never fails: completion runs inside the user's shell, where an error text would be typed into
the command line, so anything unreadable simply offers nothing.  Read-only and fetch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fspatch.errors import FspatchError


@dataclass(frozen=True)
class Completions:
    names: tuple[str, ...]


def run(
    directory: Path | None, what: str, incomplete: str, *, backend: str | None = None, layer: str | None = None
) -> Completions:
    """``what``: ``patch``, ``backend``, ``vendor`` or ``layer``; names starting with ``incomplete``."""
    try:
        return Completions(
            tuple(n for n in _names(directory, what, incomplete, backend, layer) if n.startswith(incomplete))
        )
    except (FspatchError, OSError, ValueError, KeyError):
        return Completions(())


def _names(directory: Path | None, what: str, incomplete: str, backend: str | None, layer: str | None) -> list[str]:
    from fspatch.core.lookup import all_layers, layer_of
    from fspatch.core.session import Session, pick_backend
    from fspatch.core.workspace import Workspace, find_root

    ws = Workspace.load(find_root(Path.cwd(), directory))
    if what == "backend":
        return list(ws.backends())
    if what == "vendor":
        return ws.vendors()
    if what == "layer":
        return ["common", *ws.vendors()]
    name = pick_backend(ws, backend)
    if "/" in incomplete:
        out = []
        for ref in all_layers(ws, name):
            out += [f"{ref.label}/{e.name}" for e in ws.read_layer_series(ref)]
        return out
    named = layer_of(ws, name, layer)
    if named is None:
        s = Session.open(ws, name, fetch=False, read_only=True)
        named = s.current_layer(None)
    return [e.name for e in ws.read_layer_series(named)]
