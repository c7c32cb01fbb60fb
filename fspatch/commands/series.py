"""``fspatch series``: the patches of a layer, in order, with what is applied."""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.lookup import layer_of
from fspatch.core.session import Session
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.git_adapter import GitRepo


@dataclass(frozen=True)
class SeriesItem:
    name: str
    applied: bool
    top: bool
    subject: str


@dataclass(frozen=True)
class SeriesResult:
    backend: str
    layer: str
    dir: str
    patches: tuple[SeriesItem, ...]


def run(ws: Workspace, backend: str, *, vendor: str | None = None) -> SeriesResult:
    b = ws.backend(backend)
    layer = layer_of(ws, b.name, vendor) or LayerRef(b.name, None)
    applied: list[str] = []
    if GitRepo.is_repo(ws.checkout_path(b)):
        s = Session.open(ws, backend, fetch=False)
        layer = s.current_layer(vendor)
        ls = s.layer_state(layer)
        applied = ls.names() if ls is not None else []
    items = []
    for e in ws.read_layer_series(layer):
        items.append(
            SeriesItem(e.name, e.name in applied, bool(applied) and e.name == applied[-1], _subject(ws, layer, e.name))
        )
    return SeriesResult(b.name, layer.label, layer.dir.as_posix(), tuple(items))


def _subject(ws: Workspace, layer: LayerRef, name: str) -> str:
    """The Subject: header, read cheaply without parsing the whole patch."""
    try:
        with open(ws.patch_path(layer, name), "rb") as fh:
            for _ in range(40):
                line = fh.readline()
                if not line or line.startswith((b"diff --git", b"---")):
                    break
                if line.startswith(b"Subject:"):
                    return line[8:].strip().decode("utf-8", "replace")
    except OSError:
        pass
    return ""
