"""``fspatch sync``: recreate every backend checkout from ``upstream.lock`` (see :mod:`fspatch.core.checkouts`)."""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.checkouts import SyncItem, sync_backend
from fspatch.core.workspace import Workspace
from fspatch.errors import UsageError


@dataclass(frozen=True)
class SyncResult:
    backends: tuple[SyncItem, ...]


def run(ws: Workspace, backends: list[str] | None = None) -> SyncResult:
    """Sync the named backends (default: all of them), in lock order."""
    chosen = [ws.backend(n) for n in backends] if backends else list(ws.backends().values())
    if not chosen:
        raise UsageError("no backends in upstream.lock; add one with 'fspatch backend add'")
    return SyncResult(tuple(sync_backend(ws, b) for b in chosen))
