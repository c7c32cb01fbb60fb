"""``fspatch refresh``: record the checkout's edits into one applied patch.

The work is :mod:`fspatch.core.refresh` (computed in memory, then written once); this
verb opens the session and the journal around it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fspatch.core.refresh import execute_refresh, plan_refresh
from fspatch.core.session import Session
from fspatch.core.workspace import Workspace


@dataclass(frozen=True)
class RefreshResult:
    backend: str
    layer: str
    patch: str
    path: str
    file_changed: bool
    files: tuple[str, ...]  # files the patch touches after the refresh


def run(ws: Workspace, backend: str, *, patch: str | None = None, vendor: str | None = None) -> RefreshResult:
    s = Session.open(ws, backend)
    plan = plan_refresh(s, patch=patch, vendor=vendor)
    with s.transaction("refresh", files=plan.files):
        file_changed = execute_refresh(s, plan)
    files = tuple(f.path for f in plan.patch.files)
    return RefreshResult(s.backend.name, plan.layer.label, plan.name, plan.display, file_changed, files)
