"""``fspatch check``: the whole health of a workspace in one read-only pass.

Schemas, series integrity, every layer built in memory on its base (common on
the pinned upstream, vendor layers on the current common top), the marker rules
and the canonical form of patch files; see :mod:`fspatch.core.health`.  Nothing
is written: not the workspace, not the checkout (its HEAD, index and files),
not the lock.  A backend without a checkout (a fresh clone of the workspace) is a
``no-upstream`` error, never a pass, and the checks that need no git still run for
it; ``sync=True`` first sets such checkouts up (:mod:`fspatch.core.checkouts`).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from fspatch.core.checkouts import sync_backend
from fspatch.core.health import CHECKS, HealthReport, check_workspace
from fspatch.core.workspace import Workspace

#: The result of ``check`` (``findings``, ``cases``, ``skipped``, ``patches``, ``files``, ``checks``).
CheckResult = HealthReport


def run(
    ws: Workspace | Path,
    backends: list[str] | None = None,
    *,
    checks: Collection[str] | None = None,
    markers: bool = False,
    sync: bool = False,
) -> CheckResult:
    """Run ``checks`` (default: all) on a loaded workspace or on the workspace root ``ws``.

    Given a root, an ``upstream.lock`` that cannot be loaded is a finding of the
    schema check rather than an error.  ``markers=True`` alone is kept for old
    callers and means "the marker check only".
    """
    selected = set(checks or ())
    if markers:
        selected.add("markers")
    if not selected:
        selected = set(CHECKS)
    if sync:
        loaded = ws if isinstance(ws, Workspace) else Workspace.load(ws)
        for b in loaded.backends().values():
            if backends is None or b.name in backends:
                sync_backend(loaded, b)
    if isinstance(ws, Workspace):
        return check_workspace(ws.root, backends, selected, ws=ws)
    return check_workspace(ws, backends, selected)
