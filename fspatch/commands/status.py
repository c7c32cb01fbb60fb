"""``fspatch status``: per backend, the pin, the applied layers and the checkout's edits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fspatch.core import journal
from fspatch.core.journal_check import JournalRefused
from fspatch.core.session import Session
from fspatch.core.workspace import LayerRef, Workspace
from fspatch.errors import FspatchError
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
    waiting: str | None = None  # an interrupted verb or a paused replay, and what to run


@dataclass(frozen=True)
class StatusResult:
    root: str
    backends: tuple[BackendStatus, ...]


def run(ws: Workspace, backend: str | None = None) -> StatusResult:
    names = [ws.backend(backend).name] if backend else sorted(ws.backends())
    out = []
    ws_git = ws.root / ".git"
    # export and import journal in the workspace's own git dir: shown with every backend.
    ws_waiting = _waiting(ws, ws_git) if ws_git.is_dir() else None
    for name in names:
        b = ws.backend(name)
        if not GitRepo.is_repo(ws.checkout_path(b)):
            out.append(BackendStatus(name, b.path, b.ref, b.commit, False, None, False))
            continue
        s = Session.open(ws, name, fetch=False, read_only=True)
        head = s.repo.head()
        waiting = _waiting(ws, s.repo.git_dir) or ws_waiting
        layers = []
        if s.state is not None:
            for ls in s.state.layers:
                total = _total(ws, LayerRef.from_label(name, ls.layer), len(ls.applied))
                layers.append(
                    LayerStatus(ls.layer, len(ls.applied), total, ls.applied[-1].name if ls.applied else None)
                )
        else:
            total = _total(ws, LayerRef(name, None), 0)
            layers.append(LayerStatus("common", 0, total, None))
        at_stack = head == (s.state.head if s.state is not None else b.commit)
        out.append(
            BackendStatus(
                name,
                b.path,
                b.ref,
                b.commit,
                True,
                head,
                at_stack,
                tuple(layers),
                tuple(s.repo.dirty_paths()),
                waiting,
            )
        )
    return StatusResult(str(ws.root), tuple(out))


def _waiting(ws: Workspace, git_dir: Path) -> str | None:
    """What a journal in this git dir waits for, and what to run; a refused journal says so (never 'recover')."""
    try:
        found = journal.pending(git_dir, ws.root, outside=_outside(git_dir))
    except JournalRefused as exc:
        return f"a journal fspatch refuses to act on: {exc}"
    if found is None:
        return None
    if found.paused:
        return f"{found.operation} stopped at a conflict: 'fspatch continue', 'skip' or 'abort'"
    return f"interrupted '{found.operation}': run '{journal.recover_command(found)}'"


def _outside(git_dir: Path) -> Path | None:
    found = journal.outside_dir(git_dir)
    return Path(found) if found is not None else None


def _total(ws: Workspace, layer: LayerRef, fallback: int) -> int:
    """Patches in the layer's series; status still answers when a half-done verb broke the series."""
    try:
        return len(ws.read_layer_series(layer))
    except FspatchError:
        return fallback

