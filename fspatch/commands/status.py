"""``fspatch status``: per backend, the pin, the applied layers and the checkout's edits."""

from __future__ import annotations

from dataclasses import dataclass, field

from fspatch.core.session import Session
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.git_adapter import GitRepo


@dataclass(frozen=True)
class LayerStatus:
    layer: str
    applied: int
    total: int
    top: str | None


@dataclass(frozen=True)
class BackendStatus:
    backend: str
    path: str
    ref: str
    upstream: str
    checkout: bool
    head: str | None
    head_at_stack: bool
    layers: tuple[LayerStatus, ...] = ()
    dirty: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class StatusResult:
    root: str
    backends: tuple[BackendStatus, ...]


def run(ws: Workspace, backend: str | None = None) -> StatusResult:
    names = [ws.backend(backend).name] if backend else sorted(ws.backends())
    out = []
    for name in names:
        b = ws.backend(name)
        if not GitRepo.is_repo(ws.checkout_path(b)):
            out.append(BackendStatus(name, b.path, b.ref, b.commit, False, None, False))
            continue
        s = Session.open(ws, name, fetch=False)
        head = s.repo.head()
        layers = []
        if s.state is not None:
            for ls in s.state.layers:
                vendor = ls.layer.split("/", 1)[1] if ls.layer.startswith("vendor/") else None
                total = len(ws.read_layer_series(LayerRef(name, vendor)))
                layers.append(
                    LayerStatus(ls.layer, len(ls.applied), total, ls.applied[-1].name if ls.applied else None)
                )
        else:
            total = len(ws.read_layer_series(LayerRef(name, None)))
            layers.append(LayerStatus("common", 0, total, None))
        at_stack = head == (s.state.head if s.state is not None else b.commit)
        out.append(
            BackendStatus(
                name, b.path, b.ref, b.commit, True, head, at_stack, tuple(layers), tuple(s.repo.dirty_paths())
            )
        )
    return StatusResult(str(ws.root), tuple(out))
